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


FACTS = {"vllm-envs": refresh_vllm_envs, "dcgm-fields": refresh_dcgm_fields}


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
