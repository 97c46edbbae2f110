"""scripts/tunnel.sh: shellcheck-clean, strict, private kubeconfig, and the services the stack declares."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from components import metrics_stack, tempo
from stack import platform as environment
from tests.conftest import require_tool

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "tunnel.sh"


def _shellcheck() -> str:
    beside_python = Path(sys.executable).parent / "shellcheck"
    return str(beside_python) if beside_python.is_file() else (shutil.which("shellcheck") or require_tool("shellcheck"))


def test_tunnel_script_is_shellcheck_clean():
    result = subprocess.run([_shellcheck(), "--severity=style", str(SCRIPT)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_tunnel_script_is_strict_and_keeps_the_kubeconfig_private():
    text = SCRIPT.read_text()
    assert "set -euo pipefail" in text
    assert "umask 077" in text.split("mktemp")[0], "umask before the temporary kubeconfig is created"
    assert 'rm -f "$kubeconfig"' in text and "trap cleanup EXIT" in text
    assert "pulumi stack output kubeconfig --show-secrets" in text
    assert "--address 127.0.0.1" in text


def test_tunnel_script_forwards_the_services_the_stack_declares():
    forwards = re.findall(r"^forward (\S+) (\d+) (\d+)$", SCRIPT.read_text(), flags=re.MULTILINE)
    expected = {
        (metrics_stack.GRAFANA_SERVICE, environment.LOCAL_PORTS["grafana"], metrics_stack.GRAFANA_PORT),
        (metrics_stack.PROMETHEUS_SERVICE, environment.LOCAL_PORTS["prometheus"], metrics_stack.PROMETHEUS_PORT),
        (metrics_stack.ALERTMANAGER_SERVICE, environment.LOCAL_PORTS["alertmanager"], metrics_stack.ALERTMANAGER_PORT),
        (tempo.SERVICE, environment.LOCAL_PORTS["tempo"], tempo.QUERY_PORT),
    }
    assert {(svc, int(local), int(remote)) for svc, local, remote in forwards} == expected
    assert f'namespace="{environment.MONITORING_NAMESPACE}"' in SCRIPT.read_text()


def test_tunnel_script_refuses_a_missing_stack_name():
    result = subprocess.run(["bash", str(SCRIPT)], check=False, capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage:" in result.stderr
