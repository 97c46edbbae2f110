#!/usr/bin/env python3
"""Regenerate the reference facts in tests/reference/ from the upstream sources of the pinned versions.

The tests read only tests/reference/, so a clone runs the whole suite with no network and nothing beside
it. After bumping a version in stack/versions.py, run this script for the facts that version feeds, review
the diff (a fact that changed is a fact the program may have to follow), and commit it with the bump:

    .venv/bin/python scripts/refresh-reference.py vllm-envs

Each fact's file starts with comment lines naming the upstream file, version and how it was read.
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import tempfile
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


def _write(name: str, header: list[str], lines: list[str]) -> None:
    path = REFERENCE / name
    path.write_text("\n".join([*header, *lines]) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({len(lines)} entries)")


FACTS = {"vllm-envs": refresh_vllm_envs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("facts", nargs="+", choices=[*FACTS, "all"], help="which facts to regenerate")
    chosen = parser.parse_args().facts
    for fact in FACTS if "all" in chosen else chosen:
        FACTS[fact]()


if __name__ == "__main__":
    main()
