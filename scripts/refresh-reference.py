#!/usr/bin/env python3
"""Regenerate the reference facts in tests/reference/ from the upstream sources of the pinned versions.

The tests read only tests/reference/, so a clone runs the whole suite with no network and nothing beside
it. After bumping a version in stack/versions.py, run this script for the facts that version feeds, review
the diff (a fact that changed is a fact the program may have to follow), and commit it with the bump:

    .venv/bin/python scripts/refresh-reference.py all            # or only some: vllm-envs charts ...

Python packages come from PyPI (pip download); files of Git repositories from GitHub at the pinned tag, or
from local bare clones with --git-mirrors DIR (DIR/<owner>+<name>/repo, e.g. made by `git clone --mirror`).
Each fact's file starts with comment lines naming the upstream file, version and how it was read.
"""

from __future__ import annotations

import argparse
import ast
import functools
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference"
sys.path.insert(0, str(ROOT))

from stack import versions  # noqa: E402

# The helpers vllm/envs.py reads a variable through; their first argument is the variable's name.
_ENV_READERS = {"getenv", "get", "env_with_choices", "env_list_with_choices", "env_set_with_choices",
                "get_env_or_set_default"}


def vllm_env_names(envs_py: str) -> list[str]:
    """Every environment variable vllm/envs.py reads: the keys of `environment_variables`, plus each
    name read directly (os.getenv, os.environ.get/[...]/`in`, the env_*_with_choices helpers)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(envs_py)):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "environment_variables":
            names |= {key.value for key in node.value.keys if isinstance(key, ast.Constant)}
        elif isinstance(node, ast.Call) and node.args and _is_name_literal(node.args[0]):
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            if called in _ENV_READERS:
                names.add(node.args[0].value)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) and _is_name_literal(node.slice):
            names.add(node.slice.value)
        elif isinstance(node, ast.Compare) and any(map(_is_os_environ, node.comparators)):
            if _is_name_literal(node.left):
                names.add(node.left.value)
    return sorted(names)


def _is_name_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isupper()


def _is_os_environ(node: ast.AST) -> bool:
    return ast.unparse(node) == "os.environ"


def _vllm_wheel() -> zipfile.ZipFile:
    """vLLM's wheel at the pinned image's version (the image installs that wheel)."""
    return _pypi_wheel(f"vllm=={versions.VLLM_IMAGE.tag.removeprefix('v')}")


def refresh_vllm_envs() -> None:
    wheel = _vllm_wheel()
    names = vllm_env_names(wheel.read("vllm/envs.py").decode())
    header = [
        f"# Environment variables vLLM {versions.VLLM_IMAGE.tag.removeprefix('v')} reads: vllm/envs.py in the PyPI wheel "
        f"{Path(wheel.filename).name}.",
        "# The keys of its environment_variables table, plus every name it reads directly (os.getenv,",
        "# os.environ). One name a line. Regenerate: scripts/refresh-reference.py vllm-envs",
    ]
    _write("vllm-envs.txt", header, names)


# Llama Stack substitutes ${env.NAME} (and ${env.NAME:=default}) in run configs from its environment.
_RUN_CONFIG_PLACEHOLDER = re.compile(r"\$\{env\.([A-Z0-9_]+)")


def package_env_names(sources: list[str]) -> list[str]:
    """Every environment variable a package's Python files read by a literal name (as vllm_env_names
    finds them), plus the ${env.NAME} placeholders of the run configs it ships."""
    names: set[str] = set()
    for source in sources:
        names |= set(vllm_env_names(source)) | set(_RUN_CONFIG_PLACEHOLDER.findall(source))
    return sorted(names)


def _llama_stack_sources() -> tuple[list[str], list[str]]:
    """Wheel names and .py files of the server's packages at the pinned image's version: llama-stack and
    its API package llama-stack-api, from PyPI."""
    version = versions.LLAMA_STACK_IMAGE.tag
    wheels = [_pypi_wheel(f"{package}=={version}") for package in ("llama-stack", "llama-stack-api")]
    sources = [wheel.read(name).decode() for wheel in wheels for name in wheel.namelist() if name.endswith(".py")]
    return [Path(wheel.filename).name for wheel in wheels], sources


def refresh_llama_stack_envs() -> None:
    wheels, sources = _llama_stack_sources()
    header = [
        f"# Environment variables Llama Stack {versions.LLAMA_STACK_IMAGE.tag} reads: every .py file of the PyPI",
        f"# wheels {', '.join(wheels)}. The names vllm_env_names finds in each file",
        "# (os.getenv, os.environ, ...), plus the ${env.NAME} placeholders of the run configs they ship.",
        "# One name a line. Regenerate: scripts/refresh-reference.py llama-stack-envs",
    ]
    _write("llama-stack-envs.txt", header, package_env_names(sources))


def _module_constants(trees: list[ast.Module]) -> dict[str, object]:
    """Module-level names bound to a string (f-strings of other such names included) or a list of numbers."""
    constants: dict[str, object] = {}

    def value(node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        if isinstance(node, ast.JoinedStr):
            parts = [value(part.value if isinstance(part, ast.FormattedValue) else part) for part in node.values]
            return None if None in parts else "".join(map(str, parts))
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(item) for item in node.elts]
            return items if all(isinstance(item, (int, float)) for item in items) else None
        return None

    # Constants defined from constants of other modules: repeat until nothing new resolves.
    while True:
        before = len(constants)
        for tree in trees:
            for node in tree.body:
                target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
                if isinstance(target, ast.Name) and getattr(node, "value", None) is not None:
                    if (resolved := value(node.value)) is not None:
                        constants[target.id] = resolved
        if len(constants) == before:
            return constants


def llama_stack_histograms(sources: list[str]) -> list[str]:
    """Every histogram Llama Stack creates (meter.create_histogram): OTel name, unit, and bucket bounds,
    either the explicit_bucket_boundaries_advisory it passes or sdk-default."""
    rows = []
    for method, name, arguments, constants in _meter_calls(sources):
        if method != "create_histogram":
            continue
        advisory = arguments.get("explicit_bucket_boundaries_advisory")
        bounds = constants.get(advisory.id) if isinstance(advisory, ast.Name) else getattr(advisory, "elts", None)
        if advisory is not None and bounds is None:
            raise SystemExit(f"cannot resolve the bounds of histogram {name}: {ast.unparse(advisory)}")
        bounds = [getattr(bound, "value", bound) for bound in bounds or ()]
        unit = getattr(arguments.get("unit"), "value", "") or "-"
        rows.append(f"{name}\t{unit}\t{','.join(f'{b:g}' for b in bounds) if bounds else 'sdk-default'}")
    return sorted(rows)


def refresh_llama_stack_histograms() -> None:
    wheels, sources = _llama_stack_sources()
    header = [
        f"# Histograms Llama Stack {versions.LLAMA_STACK_IMAGE.tag} records (meter.create_histogram in the PyPI wheels",
        f"# {', '.join(wheels)}). Columns (TAB): OTel name, unit, bucket bounds:",
        "# the explicit_bucket_boundaries_advisory it passes, or sdk-default: the OpenTelemetry SDK's default",
        "# bounds 0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000, meant for",
        "# milliseconds (opentelemetry-sdk 1.39.1, sdk/metrics/_internal/aggregation.py).",
        "# Regenerate: scripts/refresh-reference.py llama-stack-histograms",
    ]
    _write("llama-stack-histograms.txt", header, llama_stack_histograms(sources))


# prometheus_client's and client_golang's series per metric type: a counter gets `_total` from the
# Python client (a declared `_total` is not doubled), none from Go's; histograms and summaries their parts.
def _exposed(name: str, kind: str, python_client: bool) -> list[str]:
    if kind == "counter" and python_client:
        return [f"{name.removesuffix('_total')}_total"]
    if kind == "histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count"]
    if kind == "summary":
        # The Python client's summaries have no quantiles, so no series under the bare name.
        return [f"{name}_sum", f"{name}_count"] if python_client else [name, f"{name}_sum", f"{name}_count"]
    return [name]


def python_metric_families(sources: dict[str, str], prefix: str) -> dict[str, tuple[str, str]]:
    """Family -> (type, file) for every prometheus_client metric constructor (Gauge/Counter/Histogram/Summary,
    or vLLM's _gauge_cls/_counter_cls/_histogram_cls) called with a name starting with prefix: a literal, or
    a variable the same function assigns literals to."""
    families: dict[str, tuple[str, str]] = {}
    for path, source in sorted(sources.items()):
        for scope in ast.walk(ast.parse(source)):
            if not isinstance(scope, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            assigned: dict[str, list[str]] = {}
            for node in ast.walk(scope):
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            assigned.setdefault(target.id, []).append(node.value.value)
            for node in ast.walk(scope):
                if not isinstance(node, ast.Call):
                    continue
                called = ast.unparse(node.func).rsplit(".", 1)[-1].lower()
                kind = next((k for k in ("counter", "gauge", "histogram", "summary") if k in called), None)
                named = next(iter([kw.value for kw in node.keywords if kw.arg == "name"] + node.args[:1]), None)
                if isinstance(named, ast.Constant) and isinstance(named.value, str):
                    names = [named.value]
                else:
                    names = assigned.get(named.id, []) if isinstance(named, ast.Name) else []
                for name in names:
                    if kind and name.startswith(prefix):
                        families.setdefault(name, (kind, path))
    return families


def refresh_vllm_metrics() -> None:
    """vLLM's own families, and those of the HTTP instrumentation its OpenAI server installs
    (vllm/entrypoints/serve/instrumentator/metrics.py: prometheus-fastapi-instrumentator's default metrics)."""
    wheel = _vllm_wheel()
    sources = {name: wheel.read(name).decode() for name in wheel.namelist() if name.endswith(".py")}
    families = python_metric_families(sources, "vllm:")
    # The newest release vLLM's requirement allows: the one its image resolved when it was built.
    [instrumentator_requirement] = re.findall(r"Requires-Dist: (prometheus-fastapi-instrumentator\S*)", _wheel_metadata(wheel))
    instrumentator = _pypi_wheel(instrumentator_requirement)
    metrics_py = ast.parse(instrumentator.read("prometheus_fastapi_instrumentator/metrics.py").decode())
    [default] = [node for node in metrics_py.body if isinstance(node, ast.FunctionDef) and node.name == "default"]
    families |= python_metric_families({"prometheus_fastapi_instrumentator/metrics.py": ast.unparse(default)}, "http_")
    header = [
        f"# vLLM {versions.VLLM_IMAGE.tag.removeprefix('v')} Prometheus families ({Path(wheel.filename).name}): every metric constructor",
        "# called with a literal `vllm:` name (or a variable its function assigns one), and the HTTP metrics its server",
        f"# adds: {Path(instrumentator.filename).name} metrics.default() (vLLM requires {instrumentator_requirement}).",
        "# Families named at run time (KV-connector and offload metrics, speculative decoding) are not listed.",
        "# Exposed series per prometheus_client. Columns (TAB): family, type, exposed series, source file.",
        "# Regenerate: scripts/refresh-reference.py vllm-metrics",
    ]
    rows = [f"{name}\t{kind}\t{','.join(_exposed(name, kind, True))}\t{path}" for name, (kind, path) in sorted(families.items())]
    _write("metrics/vllm.txt", header, rows)


def _wheel_metadata(wheel: zipfile.ZipFile) -> str:
    [metadata] = [name for name in wheel.namelist() if name.endswith(".dist-info/METADATA")]
    return wheel.read(metadata).decode()


# OTel instruments and how the collector's Prometheus exporter names them (prometheus/otlptranslator,
# UnderscoreEscapingWithSuffixes): monotonic counters get `_total`, up-down counters become gauges.
_OTEL_INSTRUMENTS = {"create_counter": "counter", "create_histogram": "histogram",
                     "create_up_down_counter": "gauge", "create_gauge": "gauge"}
_UNIT_SUFFIXES = {"s": "seconds", "ms": "milliseconds", "By": "bytes"}


def otel_prometheus_name(name: str, unit: str, kind: str) -> str:
    """A metric's name after the OTLP-to-Prometheus translation: every character outside [a-zA-Z0-9_:]
    is '_', the unit's word is appended unless the name has it ('1' and {annotations} add none), a
    counter's `total` moves to the end."""
    tokens = [token for token in re.split(r"[^a-zA-Z0-9:]+", name) if token]
    unit_word = _UNIT_SUFFIXES.get(unit, "" if unit in ("", "1") or unit.startswith("{") else unit)
    if unit_word and unit_word not in tokens:
        tokens.append(unit_word)
    if kind == "counter":
        tokens = [token for token in tokens if token != "total"] + ["total"]
    return "_".join(tokens)


def _meter_calls(sources: list[str]) -> Iterator[tuple[str, str, dict[str, ast.AST], dict[str, object]]]:
    """(method, OTel name, keyword arguments, module constants) for every meter.create_* call whose name is a
    literal or a module string constant (f-strings of constants included) of the sources."""
    trees = [ast.parse(source) for source in sources]
    constants = _module_constants(trees)
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _OTEL_INSTRUMENTS:
                arguments = {keyword.arg: keyword.value for keyword in node.keywords}
                name = arguments.get("name", node.args[0] if node.args else None)
                resolved = constants.get(name.id) if isinstance(name, ast.Name) else getattr(name, "value", None)
                if isinstance(resolved, str):
                    yield node.func.attr, resolved, arguments, constants


def otel_instruments(sources: list[str]) -> dict[str, tuple[str, str]]:
    """OTel name -> (kind, unit) for every meter.create_* call with a constant name."""
    instruments: dict[str, tuple[str, str]] = {}
    for method, name, arguments, _ in _meter_calls(sources):
        instruments.setdefault(name, (_OTEL_INSTRUMENTS[method], getattr(arguments.get("unit"), "value", "")))
    return instruments


def refresh_llama_stack_metrics() -> None:
    wheels, sources = _llama_stack_sources()
    rows = []
    for name, (kind, unit) in sorted(otel_instruments(sources).items()):
        prometheus = otel_prometheus_name(name, unit, kind)
        rows.append(f"{name}\t{kind}\t{unit or '-'}\t{prometheus}\t{','.join(_exposed(prometheus, kind, False))}")
    header = [
        f"# Llama Stack {versions.LLAMA_STACK_IMAGE.tag} OTel metrics (the PyPI wheels {', '.join(wheels)}): every",
        "# meter.create_* call with a constant name, and the Prometheus series the collector's exporter makes of it",
        "# (otlptranslator rules). Auto-instrumentation metrics (opentelemetry-instrument) are not listed.",
        "# Columns (TAB): OTel name, kind, unit, Prometheus family, exposed series.",
        "# Regenerate: scripts/refresh-reference.py llama-stack-metrics",
    ]
    _write("metrics/llama-stack.txt", header, rows)


def go_metric_families(sources: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Prometheus family -> (type, file) for client_golang metrics in Go sources: each
    prometheus.<Kind>Opts{Namespace, Subsystem, Name} (string constants of the same sources resolved),
    and each prometheus.NewDesc with a literal name (a collector's gauge)."""
    constants = dict(re.findall(r'\b(\w+)\s*=\s*"([a-z0-9_:]*)"', "\n".join(sources.values())))
    families: dict[str, tuple[str, str]] = {}
    for path, source in sorted(sources.items()):
        for match in re.finditer(r"prometheus\.(Counter|Gauge|Histogram|Summary)Opts\{", source):
            body = _braced(source, match.end())
            parts = []
            for field in ("Namespace", "Subsystem", "Name"):
                value = re.search(rf"\b{field}:\s*([^,\n]+)", body)
                parts.append(_go_string(value.group(1) if value else '""', constants))
            if None not in parts and parts[-1]:
                families.setdefault("_".join(part for part in parts if part), (match.group(1).lower(), path))
        for name in re.findall(r'prometheus\.NewDesc\(\s*"(\w+)"', source):
            families.setdefault(name, ("gauge", path))
    return families


def _go_string(expression: str, constants: dict[str, str]) -> str | None:
    """A Go string expression of literals and string constants joined by '+' (a package-qualified constant
    resolves by its own name); None when it reads a variable, i.e. a name built at run time."""
    value = ""
    for token in (token.strip() for token in expression.split("+")):
        if token.startswith('"') and token.endswith('"'):
            value += token[1:-1]
        elif token.rsplit(".", 1)[-1] in constants:
            value += constants[token.rsplit(".", 1)[-1]]
        else:
            return None
    return value


def _braced(source: str, start: int) -> str:
    """The text from start up to the brace that closes the one opened just before it."""
    depth, position = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(source[position], 0)
        position += 1
    return source[start:position - 1]


def refresh_epp_metrics() -> None:
    repo, tag = "llm-d/llm-d-router", versions.LLM_D_ROUTER.app_version
    sources = {path: text for path, text in _upstream_files(repo, tag)
               if path.endswith(".go") and not path.endswith("_test.go") and "prometheus." in text}
    families = go_metric_families(sources)
    header = [
        f"# llm-d router (EPP) {tag} Prometheus families: github {repo} at {tag}, every client_golang",
        "# metric declared in its non-test Go files (Opts{Namespace, Subsystem, Name} of string constants, NewDesc).",
        "# Names built from variables at run time are not listed. Go adds no suffix to counters.",
        "# Columns (TAB): family, type, exposed series, source file.",
        "# Regenerate: scripts/refresh-reference.py epp-metrics",
    ]
    rows = [f"{name}\t{kind}\t{','.join(_exposed(name, kind, False))}\t{path}" for name, (kind, path) in sorted(families.items())]
    _write("metrics/llm-d-epp.txt", header, rows)


def refresh_dcgm_fields() -> None:
    """The field names dcgm-exporter's counters CSV reader accepts at the pinned exporter tag.

    internal/pkg/counters/counter_config.go (ExtractCounters) looks a name up with go-dcgm's GetFieldID
    (current and legacy names, pkg/dcgm/const_fields.go, generated from DCGM's dcgm_fields.h) at the
    go-dcgm version the exporter's go.mod pins, then among the exporter's own DCGM_EXP_* counters.
    """
    exporter, tag = "NVIDIA/dcgm-exporter", versions.DCGM_EXPORTER_IMAGE.tag.removesuffix("-distroless")
    go_mod = _upstream(exporter, tag, "go.mod")
    go_dcgm = re.search(r"github\.com/NVIDIA/go-dcgm (\S+)", go_mod).group(1)
    # A pseudo-version (v0.0.0-<date>-<commit>) names a commit; anything else is a tag.
    go_dcgm_ref = go_dcgm.rsplit("-", 1)[1] if go_dcgm.count("-") >= 2 else go_dcgm
    const_fields = _upstream("NVIDIA/go-dcgm", go_dcgm_ref, "pkg/dcgm/const_fields.go")
    own = _upstream(exporter, tag, "internal/pkg/counters/const.go")
    rows = [f"{name}\t{number}\tcurrent" for name, number in _go_name_map(const_fields, "dcgmFields")]
    rows += [f"{name}\t{number}\tlegacy" for name, number in _go_name_map(const_fields, "legacyDCGMFields")]
    rows += [f"{name}\t-\texporter" for name in sorted(set(re.findall(r'DCGMExp\w+\s*=\s*"(\w+)"', own)))]
    header = [
        f"# DCGM field names dcgm-exporter {tag} accepts in its counters CSV (counters.ExtractCounters).",
        f"# current/legacy: go-dcgm {go_dcgm} (the exporter's go.mod) pkg/dcgm/const_fields.go, maps",
        "# dcgmFields and legacyDCGMFields; exporter: its own counters, internal/pkg/counters/const.go.",
        "# Columns (TAB): name, DCGM field id, where the name comes from.",
        "# Regenerate: scripts/refresh-reference.py dcgm-fields",
    ]
    _write("dcgm-fields.txt", header, rows)


def _go_name_map(go_source: str, variable: str) -> list[tuple[str, int]]:
    body = re.search(rf"var {variable} = map\[string\]Short\{{(.*?)\n\}}", go_source, re.S).group(1)
    return sorted((name, int(number)) for name, number in re.findall(r'"(\w+)":\s*(\d+)', body))


@dataclass(frozen=True)
class ChartSource:
    """Where a pinned chart's source lives: the chart folder at the release tag of its Git repository."""

    reference: str  # the folder under tests/reference/charts
    repo: str
    tag: str
    folder: str
    # What the folder's Chart.yaml must say; None where the repository stamps the version at release.
    version: str | None


def chart_sources() -> list[ChartSource]:
    """The charts whose default values the tests check ours against: the platform's, the subcharts of
    kube-prometheus-stack (at the versions that chart depends on) and the workloads'."""
    kps, router = versions.KUBE_PROMETHEUS_STACK, versions.LLM_D_ROUTER
    kps_source = ChartSource(kps.name, "prometheus-community/helm-charts", f"{kps.name}-{kps.version}",
                             f"charts/{kps.name}", kps.version)
    kps_chart = yaml.safe_load(_upstream(kps_source.repo, kps_source.tag, f"{kps_source.folder}/Chart.yaml"))
    subchart = {d["name"]: d["version"] for d in kps_chart["dependencies"]}
    grafana, ksm, node_exporter = subchart["grafana"], subchart["kube-state-metrics"], subchart["prometheus-node-exporter"]
    return [
        kps_source,
        ChartSource("grafana", "grafana-community/helm-charts", f"grafana-{grafana}", "charts/grafana", grafana),
        ChartSource("kube-state-metrics", kps_source.repo, f"kube-state-metrics-{ksm}", "charts/kube-state-metrics",
                    ksm),
        ChartSource("prometheus-node-exporter", kps_source.repo, f"prometheus-node-exporter-{node_exporter}",
                    "charts/prometheus-node-exporter", node_exporter),
        ChartSource(versions.TEMPO.name, "grafana-community/helm-charts", f"tempo-{versions.TEMPO.version}",
                    "charts/tempo", versions.TEMPO.version),
        ChartSource(versions.OPENTELEMETRY_COLLECTOR.name, "open-telemetry/opentelemetry-helm-charts",
                    f"opentelemetry-collector-{versions.OPENTELEMETRY_COLLECTOR.version}",
                    "charts/opentelemetry-collector", versions.OPENTELEMETRY_COLLECTOR.version),
        ChartSource(versions.DCGM_EXPORTER.name, "NVIDIA/dcgm-exporter",
                    versions.DCGM_EXPORTER_IMAGE.tag.removesuffix("-distroless"), "deployment",
                    versions.DCGM_EXPORTER.version),
        ChartSource(versions.LLM_D_MODELSERVICE.name, "llm-d-incubation/llm-d-modelservice",
                    f"llm-d-modelservice-{versions.LLM_D_MODELSERVICE.version}", "charts/llm-d-modelservice",
                    versions.LLM_D_MODELSERVICE.version),
        # The router's charts say 0.0.0 in Git; its release CI stamps the tag in.
        ChartSource(router.name, "llm-d/llm-d-router", router.version, f"config/charts/{router.name}", None),
        ChartSource("llm-d-routerlib", "llm-d/llm-d-router", router.version, "config/charts/routerlib", None),
    ]


def refresh_charts() -> None:
    """Each chart's values.yaml, and values.schema.json where the chart ships one, byte for byte."""
    sources = ["# Where tests/reference/charts/<chart>/ comes from: the chart folder at the release tag.",
               "# Columns (TAB): folder here, GitHub repository, tag, chart folder, files.",
               "# Regenerate: scripts/refresh-reference.py charts"]
    for chart in chart_sources():
        declared = yaml.safe_load(_upstream(chart.repo, chart.tag, f"{chart.folder}/Chart.yaml"))
        if chart.version is not None and str(declared["version"]).removeprefix("v") != chart.version.removeprefix("v"):
            raise SystemExit(f"{chart.repo}@{chart.tag}: Chart.yaml says {declared['version']}, pinned {chart.version}")
        target = REFERENCE / "charts" / chart.reference
        target.mkdir(parents=True, exist_ok=True)
        files = []
        for name in ("values.yaml", "values.schema.json"):
            text = _upstream(chart.repo, chart.tag, f"{chart.folder}/{name}", optional=name != "values.yaml")
            if text is None:
                (target / name).unlink(missing_ok=True)
                continue
            if name.endswith(".json"):
                json.loads(text)
            (target / name).write_text(text)
            files.append(name)
        sources.append("\t".join([chart.reference, chart.repo, chart.tag, chart.folder, ",".join(files)]))
        print(f"wrote {target.relative_to(ROOT)}: {', '.join(files)}")
    (REFERENCE / "charts" / "SOURCES.txt").write_text("\n".join(sources) + "\n")


_GIT_MIRRORS: Path | None = None
# Where wheels are downloaded for one run; removed at its end.
_DOWNLOADS: str | None = None


def _upstream(repo: str, ref: str, path: str, optional: bool = False) -> str | None:
    """A file of a GitHub repository at a tag or commit, from a local bare clone or from GitHub; None
    when an optional file is absent there."""
    if _GIT_MIRRORS is not None:
        git_dir = _GIT_MIRRORS / repo.replace("/", "+") / "repo"
        shown = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{ref}:{path}"], capture_output=True, text=True)
        if shown.returncode != 0 and optional and "does not exist" in shown.stderr:
            return None
        if shown.returncode != 0:
            raise SystemExit(f"{repo}@{ref}:{path}: {shown.stderr.strip()}")
        return shown.stdout
    try:
        with urllib.request.urlopen(f"https://raw.githubusercontent.com/{repo}/{ref}/{path}", timeout=60) as response:
            return response.read().decode()
    except urllib.error.HTTPError as error:
        if optional and error.code == 404:
            return None
        raise


@functools.cache
def _pypi_wheel(requirement: str) -> zipfile.ZipFile:
    """The newest PyPI wheel meeting a requirement (an exact pin, mostly), for Python 3.12: the image's and CI's."""
    download = tempfile.mkdtemp(dir=_DOWNLOADS)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", requirement, "--dest", download],
        check=True,
    )
    [wheel] = Path(download).glob("*.whl")
    return zipfile.ZipFile(wheel)


def _upstream_files(repo: str, ref: str) -> list[tuple[str, str]]:
    """Every text file of a GitHub repository at a tag: `git archive` of a local bare clone, or GitHub's tarball."""
    if _GIT_MIRRORS is not None:
        git_dir = _GIT_MIRRORS / repo.replace("/", "+") / "repo"
        archive = subprocess.run(["git", "--git-dir", str(git_dir), "archive", ref], check=True, capture_output=True).stdout
        tar = tarfile.open(fileobj=io.BytesIO(archive))
    else:
        with urllib.request.urlopen(f"https://codeload.github.com/{repo}/tar.gz/{ref}", timeout=300) as response:
            tar = tarfile.open(fileobj=io.BytesIO(response.read()), mode="r:gz")
    files = []
    for member in tar.getmembers():
        if member.isfile():
            # GitHub's tarball puts everything under <name>-<ref>/.
            path = member.name if _GIT_MIRRORS is not None else member.name.split("/", 1)[1]
            files.append((path, tar.extractfile(member).read().decode(errors="replace")))
    return files


def _write(name: str, header: list[str], lines: list[str]) -> None:
    path = REFERENCE / name
    path.write_text("\n".join([*header, *lines]) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(lines)} entries)")


FACTS = {
    "vllm-envs": refresh_vllm_envs,
    "vllm-metrics": refresh_vllm_metrics,
    "epp-metrics": refresh_epp_metrics,
    "llama-stack-metrics": refresh_llama_stack_metrics,
    "llama-stack-envs": refresh_llama_stack_envs,
    "llama-stack-histograms": refresh_llama_stack_histograms,
    "dcgm-fields": refresh_dcgm_fields,
    "charts": refresh_charts,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("facts", nargs="+", choices=[*FACTS, "all"], help="which facts to regenerate")
    parser.add_argument("--git-mirrors", type=Path, help="read Git repositories from bare clones here, not GitHub")
    arguments = parser.parse_args()
    global _GIT_MIRRORS, _DOWNLOADS
    _GIT_MIRRORS = arguments.git_mirrors
    chosen = arguments.facts
    with tempfile.TemporaryDirectory() as _DOWNLOADS:
        for fact in FACTS if "all" in chosen else chosen:
            FACTS[fact]()


if __name__ == "__main__":
    main()
