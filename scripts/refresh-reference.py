#!/usr/bin/env python3
"""Regenerate the reference facts in tests/reference/ from the upstream sources of the pinned versions.

The tests read only tests/reference/, so a clone runs the whole suite with no network and nothing beside
it. After bumping a version in stack/versions.py, run this script for the facts that version feeds, review
the diff (a fact that changed is a fact the program may have to follow), and commit it with the bump:

    .venv/bin/python scripts/refresh-reference.py vllm-envs dcgm-fields

Python packages come from PyPI (pip download); files of Git repositories from GitHub at the pinned tag, or
from local bare clones with --git-mirrors DIR (DIR/<owner>+<name>/repo, e.g. made by `git clone --mirror`).
Each fact's file starts with comment lines naming the upstream file, version and how it was read.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

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


def refresh_vllm_envs() -> None:
    """vllm/envs.py from the PyPI wheel of the pinned vLLM image's version (the image installs that wheel)."""
    version = versions.VLLM_IMAGE.tag.removeprefix("v")
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", f"vllm=={version}", "--dest", download],
            check=True,
        )
        [wheel] = Path(download).glob("vllm-*.whl")
        envs_py = zipfile.ZipFile(wheel).read("vllm/envs.py").decode()
    names = vllm_env_names(envs_py)
    header = [
        f"# Environment variables vLLM {version} reads: vllm/envs.py in the PyPI wheel {wheel.name}.",
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
    packages = [f"llama-stack=={version}", f"llama-stack-api=={version}"]
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
             "--python-version", "3.12", *packages, "--dest", download],
            check=True,
        )
        wheels = sorted(Path(download).glob("*.whl"))
        sources = []
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                sources += [archive.read(name).decode() for name in archive.namelist() if name.endswith(".py")]
    return [wheel.name for wheel in wheels], sources


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
    trees = [ast.parse(source) for source in sources if "create_histogram" in source or "PREFIX" in source]
    constants = _module_constants(trees)
    rows = []
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "create_histogram":
                arguments = {keyword.arg: keyword.value for keyword in node.keywords}
                name = arguments.get("name", node.args[0] if node.args else None)
                resolved = constants.get(name.id) if isinstance(name, ast.Name) else getattr(name, "value", None)
                unit = getattr(arguments.get("unit"), "value", "")
                bounds = arguments.get("explicit_bucket_boundaries_advisory")
                if isinstance(bounds, ast.Name):
                    bounds = constants.get(bounds.id)
                elif bounds is not None:
                    bounds = [item.value for item in bounds.elts]
                if resolved is None or (arguments.get("explicit_bucket_boundaries_advisory") and bounds is None):
                    raise SystemExit(f"cannot resolve the histogram at line {node.lineno}: {ast.unparse(node)}")
                rows.append(f"{resolved}\t{unit or '-'}\t{','.join(f'{b:g}' for b in bounds) if bounds else 'sdk-default'}")
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


_GIT_MIRRORS: Path | None = None


def _upstream(repo: str, ref: str, path: str) -> str:
    """A file of a GitHub repository at a tag or commit: from a local bare clone, or from GitHub."""
    if _GIT_MIRRORS is not None:
        git_dir = _GIT_MIRRORS / repo.replace("/", "+") / "repo"
        return subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{ref}:{path}"],
                              check=True, capture_output=True, text=True).stdout
    with urllib.request.urlopen(f"https://raw.githubusercontent.com/{repo}/{ref}/{path}", timeout=60) as response:
        return response.read().decode()


def _write(name: str, header: list[str], lines: list[str]) -> None:
    path = REFERENCE / name
    path.write_text("\n".join([*header, *lines]) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(lines)} entries)")


FACTS = {
    "vllm-envs": refresh_vllm_envs,
    "llama-stack-envs": refresh_llama_stack_envs,
    "llama-stack-histograms": refresh_llama_stack_histograms,
    "dcgm-fields": refresh_dcgm_fields,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("facts", nargs="+", choices=[*FACTS, "all"], help="which facts to regenerate")
    parser.add_argument("--git-mirrors", type=Path, help="read Git repositories from bare clones here, not GitHub")
    arguments = parser.parse_args()
    global _GIT_MIRRORS
    _GIT_MIRRORS = arguments.git_mirrors
    chosen = arguments.facts
    for fact in FACTS if "all" in chosen else chosen:
        FACTS[fact]()


if __name__ == "__main__":
    main()
