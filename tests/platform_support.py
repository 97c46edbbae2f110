"""Helpers for the platform tests: the Helm releases the program declares, and walking their values."""

from __future__ import annotations

import copy
import functools
import os
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.harness import Declared, Program

RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """../shared beside the repository (CI, the main worktree), or beside the worktrees' folder."""
    if "LLMOBS_SHARED_DIR" in os.environ:
        return Path(os.environ["LLMOBS_SHARED_DIR"])
    candidates = [ROOT.parent / "shared", ROOT.parent.parent / "shared"]
    return next((c for c in candidates if c.is_dir()), candidates[0])


SHARED_CHARTS = shared_dir() / "reference" / "charts"


def releases(program: Program) -> dict[str, Declared]:
    """The platform's releases (namespace monitoring, and its exporters' namespace) by chart name."""
    platform = [
        r for r in program.of_type(RELEASE_TYPE) if r.inputs.get("namespace") in ("monitoring", "monitoring-exporters")
    ]
    found = {r.inputs["chart"]: r for r in platform}
    assert len(found) == len(platform), "one release per chart expected"
    return found


def values_of(program: Program, chart: str) -> dict[str, Any]:
    return releases(program)[chart].inputs.get("values", {})


def walk(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every (path, value) in nested dicts and lists; list items get their index as a path element."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, str(index)))


def dig(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node[part]
    return node


def chart_reference(chart: str, filename: str = "values.yaml") -> Any:
    """A chart's default values (or schema) from ../shared; skips the test when ../shared is absent."""
    if not SHARED_CHARTS.is_dir():
        pytest.skip(f"{SHARED_CHARTS} is absent: the charts' reference values are only in the development tree")
    return copy.deepcopy(_load(SHARED_CHARTS / chart / filename))


@functools.cache
def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text()) if path.is_file() else None
