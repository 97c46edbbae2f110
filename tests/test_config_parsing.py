"""Reading the stack files gives the program the same settings as the Pulumi CLI would for those files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pulumi
import pytest
import yaml

import stack.config as stack_config
from dashboards import render
from stack.config import PROJECT, PROJECT_DIR, parse, raw_from_files, raw_from_pulumi
from stack.config.common import ENCRYPTED, Encrypted
from tests.harness import as_deployed


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's Pulumi.yaml and stack files the readers look at instead of the real ones."""
    for path in PROJECT_DIR.glob("Pulumi*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    monkeypatch.setattr(stack_config, "PROJECT_DIR", tmp_path)
    return tmp_path


def _write_stack(project: Path, stack: str, values: dict) -> None:
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": values}))


def _engine_raw(stack_file: dict) -> dict:
    """What raw_from_pulumi reads when the engine hands the program this stack file's values (as text)."""
    texts = {}
    for key, value in stack_file.items():
        if ":" not in key:
            key = f"{PROJECT}:{key}"
        # The engine hands non-string values over as JSON.
        texts[key] = value if isinstance(value, str) else json.dumps(value)
    pulumi.runtime.set_all_config(texts)
    try:
        pulumi.runtime.settings._set_project(PROJECT)
        return raw_from_pulumi()
    finally:
        pulumi.runtime.set_all_config({})


AS_CLI_WRITES = {
    # `pulumi config set rootVolumeGiB 400` and friends store strings.
    f"{PROJECT}:allowedCidrs": ["100.64.12.0/28"],
    f"{PROJECT}:rootVolumeGiB": "400",
    f"{PROJECT}:spotInstances": "true",
    f"{PROJECT}:idleStopMinutes": "30",
    f"{PROJECT}:traceContent": "false",
    f"{PROJECT}:modelReplicas": "2",
}
AS_TYPED = {
    f"{PROJECT}:allowedCidrs": ["100.64.12.0/28"],
    f"{PROJECT}:rootVolumeGiB": 400,
    f"{PROJECT}:spotInstances": True,
    f"{PROJECT}:idleStopMinutes": 30,
    f"{PROJECT}:traceContent": False,
    f"{PROJECT}:modelReplicas": 2,
}


def test_numbers_and_booleans_stored_as_strings_read_as_numbers_and_booleans(project):
    _write_stack(project, "strings", AS_CLI_WRITES)
    _write_stack(project, "typed", AS_TYPED)
    as_strings, as_typed = parse("s", raw_from_files("strings")), parse("s", raw_from_files("typed"))
    assert as_strings == as_typed
    assert as_strings.host.root_volume_gib == 400 and as_strings.cost_guards.spot_instances is True
    assert as_strings.workload.trace_content is False and as_strings.cost_guards.idle_stop_minutes == 30


def test_keys_without_the_project_prefix_count_like_prefixed_ones(project):
    _write_stack(project, "bare", {k.split(":", 1)[1]: v for k, v in AS_TYPED.items()} | {"aws:region": "eu-west-1"})
    _write_stack(project, "typed", AS_TYPED)
    assert parse("s", raw_from_files("bare")) == parse("s", raw_from_files("typed"))


@pytest.mark.parametrize("values", [AS_CLI_WRITES, AS_TYPED], ids=["strings", "typed"])
def test_the_engine_and_the_stack_files_give_the_program_the_same_values(project, values):
    _write_stack(project, "files", values)
    from_files = raw_from_files("files")
    from_engine = _engine_raw({key: value for key, value in values.items()})
    for key, value in from_engine.items():
        if value is not None:
            assert from_files[key] == value, key


def test_a_secret_set_as_prods_file_says_is_read_as_encrypted_and_never_fails(project):
    """`pulumi config set --secret alertReceiverUrl ...` writes a secure: value the files cannot decrypt."""
    prod = yaml.safe_load((project / "Pulumi.prod.yaml").read_text())["config"]
    prod |= {
        f"{PROJECT}:allowedCidrs": ["100.64.12.0/28"],
        f"{PROJECT}:budgetAlertEmails": ["alerts@acme.internal"],
        f"{PROJECT}:alertReceiver": "slack",
        f"{PROJECT}:alertReceiverUrl": {"secure": "v1:Zm9vYmFy:c2VjcmV0LWNpcGhlcnRleHQ="},
        "hfToken": {"secure": "v1:YWJj:ZGVm"},
    }
    _write_stack(project, "prod", prod)
    raw = raw_from_files("prod")
    assert raw["alertReceiverUrl"] is ENCRYPTED and raw["hfToken"] is ENCRYPTED
    config = parse("prod", raw)
    assert isinstance(config.platform.alert_receiver_url.value, Encrypted)
    assert "secret-ciphertext" not in repr(config) and "Zm9v" not in repr(config)
    assert render.main(["--stack", "prod", "--out", str(project / "signals")]) == 0


def test_the_shipped_prod_file_with_the_filled_in_values_parses():
    config = parse("prod", as_deployed("prod"))
    assert config.platform.alert_receiver == "slack"
