"""The README promises what the code does: its settings table, its set-up commands, what CI runs."""

from __future__ import annotations

import json
import re

from stack.config import declared_settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def _settings_table() -> dict[str, tuple[str, str]]:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (.+?) \|", section, re.MULTILINE)
    return {key: (type_, default.strip()) for key, type_, default in rows}


def _readme_default(declaration: dict) -> str:
    if "default" not in declaration:
        return "(required)"
    default = declaration["default"]
    if isinstance(default, str) and default:
        return f"`{default}`"
    return f"`{json.dumps(default)}`"


def test_readme_settings_table_matches_pulumi_yaml():
    declared = declared_settings()
    table = _settings_table()
    assert sorted(table) == sorted(declared), "README settings table and Pulumi.yaml disagree on keys"
    for key, declaration in declared.items():
        assert table[key] == (declaration["type"], _readme_default(declaration)), key


def test_every_setting_has_type_and_description():
    for key, declaration in declared_settings().items():
        assert declaration["type"] in {"string", "integer", "boolean", "array"}, key
        assert declaration.get("description"), key


def test_readme_set_up_commands_are_makefile_targets_and_ci_runs_the_test_one():
    assert "make deploy STACK=dev" in README and "\nmake test\n" in README
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^deploy:", makefile, re.MULTILINE) and re.search(r"^test:", makefile, re.MULTILINE)
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("make test")


def test_readme_states_the_catalogue_price_of_the_default_instance():
    from stack.catalogue import lookup

    assert f"${lookup('g6.12xlarge').usd_per_hour}" in README
