"""The Alertmanager configuration each stack installs, checked by the real tool: `amtool check-config`
(Debian's prometheus-alertmanager) on the rendered config of every stack, and `amtool config routes
test` proving where each alert's labels route, for dev and prod (as deployed, and with the dead man's
switch set too). Inhibition and the Watchdog's route
are pinned here too."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

import dashboards
from components.metrics_stack import WATCHDOG_RECEIVER
from tests.conftest import require_tool
from tests.harness import run_program
from tests.prometheus_server import free_port
from tests.signals_support import bundle_for

RELEASE = "kubernetes:helm.sh/v3:Release"
RECEIVER_URL = "https://hooks.slack.com/services/T000/B000/not-a-real-token"
WATCHDOG_URL = "https://hc-ping.com/00000000-0000-0000-0000-000000000000"
STACKS = {  # name -> (stack, overrides, secret keys)
    "dev": ("dev", {}, ()),
    "prod": ("prod", {}, ()),
    "prod paging": ("prod", {"alertReceiver": "slack", "alertReceiverUrl": RECEIVER_URL, "watchdogUrl": WATCHDOG_URL},
                    ("alertReceiverUrl", "watchdogUrl")),
    "dev webhook": ("dev", {"alertReceiver": "webhook", "alertReceiverUrl": RECEIVER_URL}, ("alertReceiverUrl",)),
}


@lru_cache(maxsize=None)
def _rendered(name: str) -> dict:
    stack, overrides, secrets = STACKS[name]
    program = run_program(stack, overrides, secret_keys=secrets)
    release = next(r for r in program.of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack")
    return release.inputs["values"]["alertmanager"]["config"]


def _for_debian_amtool(config: dict) -> dict:
    """Debian bookworm's amtool is 0.25, which predates the webhook's `url_file` (Alertmanager 0.26; the
    pinned v0.34 reads it). For its check only, each webhook's url_file becomes a `url` naming the same
    file; every other key is checked as rendered."""
    config = yaml.safe_load(yaml.safe_dump(config))
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = "https://secret-file.invalid" + webhook.pop("url_file")
    return config


def _write(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name.replace(' ', '-')}.yml"
    path.write_text(yaml.safe_dump(_for_debian_amtool(_rendered(name))))
    return path


@pytest.mark.parametrize("name", STACKS)
def test_amtool_check_config_passes_on_every_stack(name, tmp_path):
    amtool = require_tool("amtool")
    result = subprocess.run([amtool, "check-config", str(_write(tmp_path, name))], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_receiver_urls_are_files_never_values():
    for name in STACKS:
        for receiver in _rendered(name)["receivers"]:
            for webhook in receiver.get("webhook_configs", []):
                assert set(webhook) == {"url_file", "send_resolved"}, name
            for slack in receiver.get("slack_configs", []):
                assert "api_url" not in slack and slack["api_url_file"].startswith("/etc/alertmanager/secrets/")


def _alert_labels() -> list[dict[str, str]]:
    """Each alert the stack ships, with its severity and the labels a firing instance carries."""
    out = []
    for body in bundle_for(monthlyBudgetUsd="1500").rules.values():
        for group in body["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    out.append({"alertname": rule["alert"], "severity": rule["labels"]["severity"], "namespace": "llm"})
    return out


ROUTES = {  # stack -> (receiver of every alert, receiver of the Watchdog)
    "dev": ("null", "null"),
    "prod": ("slack", "null"),  # prod as deployed: its Slack receiver set (tests/harness.py as_deployed)
    "prod paging": ("slack", WATCHDOG_RECEIVER),
    "dev webhook": ("webhook", "null"),
}


@pytest.mark.parametrize("name", ["dev", "prod", "prod paging"])
def test_amtool_routes_every_alert_and_the_watchdog_where_the_stack_says(name, tmp_path):
    amtool = require_tool("amtool")
    path = _write(tmp_path, name)
    receiver, watchdog = ROUTES[name]
    cases = [(labels, receiver) for labels in _alert_labels()]
    cases.append(({"alertname": "Watchdog", "severity": "none", "namespace": "monitoring"}, watchdog))
    for labels, expected in cases:
        result = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={path}", f"--verify.receivers={expected}",
             *(f"{key}={value}" for key, value in labels.items())],
            capture_output=True, text=True)
        assert result.returncode == 0, f"{name}: {labels} -> {result.stdout.strip()} {result.stderr.strip()}"


def test_watchdog_pings_the_dead_mans_switch_every_minute():
    route = next(r for r in _rendered("prod paging")["route"]["routes"] if 'alertname = "Watchdog"' in r["matchers"])
    assert (route["receiver"], route["repeat_interval"], route["group_interval"]) == (WATCHDOG_RECEIVER, "1m", "1m")
    receiver = next(r for r in _rendered("prod paging")["receivers"] if r["name"] == WATCHDOG_RECEIVER)
    assert receiver["webhook_configs"][0]["url_file"] == "/etc/alertmanager/secrets/alertmanager-watchdog/url"


def test_inhibition_rules_name_alerts_the_stack_ships():
    config = _rendered("dev")
    assert config["inhibit_rules"] == [dict(rule) for rule in dashboards.inhibit_rules()]
    shipped = {labels["alertname"] for labels in _alert_labels()}
    engine_down = config["inhibit_rules"][1]
    muted = engine_down["target_matchers"][0].split('"')[1].split("|")
    assert set(muted) <= shipped and "VllmEngineDown" in engine_down["source_matchers"][0]


def test_watchdog_url_lives_in_a_secret_alertmanager_mounts():
    stack, overrides, secrets = STACKS["prod paging"]
    program = run_program(stack, overrides, secret_keys=secrets)
    secret = program.one("kubernetes:core/v1:Secret", "watchdog")
    assert secret.inputs["metadata"]["name"] == "alertmanager-watchdog" and "stringData" in secret.secret_inputs
    release = next(r for r in program.of_type(RELEASE) if r.inputs["name"] == "kube-prometheus-stack")
    assert "alertmanager-watchdog" in release.inputs["values"]["alertmanager"]["alertmanagerSpec"]["secrets"]
    assert WATCHDOG_URL not in str(release.inputs)


@pytest.mark.parametrize(
    ("overrides", "secrets", "message"),
    [
        ({"watchdogUrl": "http://hc-ping.com/x"}, ("watchdogUrl",), "watchdogUrl is not an https:// URL"),
        ({"watchdogUrl": WATCHDOG_URL}, (), "watchdogUrl must be stored encrypted"),
    ],
)
def test_bad_watchdog_url_is_refused_without_printing_it(overrides, secrets, message):
    with pytest.raises(Exception) as error:
        run_program("dev", overrides, secret_keys=secrets)
    assert message in str(error.value) and "hc-ping.com" not in str(error.value)


def _alert(name: str, severity: str, **labels: str) -> dict:
    return {"labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": name}, "generatorURL": "http://127.0.0.1/graph"}


def test_a_real_alertmanager_mutes_what_another_alert_explains(tmp_path):
    """Debian's Alertmanager on loopback with dev's rendered config: a critical burn mutes its warning
    tier, an engine down mutes its model's latency-burn (either tier) and queue alerts, which it explains,
    and nothing else is muted (another model's queue, a GPU's XID)."""
    binary = require_tool("prometheus-alertmanager")
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(_for_debian_amtool(_rendered("dev"))))
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("w")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/api/v2/alerts"
    model = {"namespace": "llm", "model_name": "m"}
    sent = [
        _alert("VllmTtftSloBurn", "critical", **model), _alert("VllmTtftSloBurn", "warning", **model),
        _alert("VllmEngineDown", "critical", job="vllm", pod="vllm-1", **model),
        _alert("VllmE2eLatencySloBurn", "warning", **model),
        _alert("VllmQueueBuildUp", "warning", pod="vllm-0", **model),
        _alert("VllmQueueBuildUp", "warning", pod="vllm-9", namespace="llm", model_name="other"),
        _alert("GpuXidError", "warning", Hostname="minikube", gpu="2", err_code="13"),
    ]
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(url, json.dumps(sent).encode(), {"Content-Type": "application/json"})
                urllib.request.urlopen(request, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError((tmp_path / "alertmanager.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        time.sleep(1)
        with urllib.request.urlopen(url, timeout=5) as response:
            received = json.load(response)
    finally:
        process.terminate()
        process.wait(timeout=20)
    muted = {(a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("model_name"))
             for a in received if a["status"]["inhibitedBy"]}
    assert len(received) == len(sent)
    assert muted == {("VllmTtftSloBurn", "warning", "m"), ("VllmTtftSloBurn", "critical", "m"),
                     ("VllmE2eLatencySloBurn", "warning", "m"), ("VllmQueueBuildUp", "warning", "m")}
