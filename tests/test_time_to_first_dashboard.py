"""The time-to-first-dashboard benchmark script, run with stand-in pulumi and kubectl (no cloud here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, require_tool

SCRIPT = ROOT / "scripts" / "measure-time-to-first-dashboard.sh"


def _stand_in(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text("#!/usr/bin/env bash\n" + body)
    path.chmod(0o755)


def _run(tmp_path: Path, prometheus_answer: str) -> subprocess.CompletedProcess:
    _stand_in(tmp_path, "pulumi", '[ "$1" = up ] && { echo "+ kubernetes:helm.sh/v3:Release vllm created"; exit 0; }\necho "apiVersion: v1"\n')
    _stand_in(tmp_path, "kubectl", f'echo "$*" >> "{tmp_path}/kubectl.calls"\necho \'{prometheus_answer}\'\n')
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    return subprocess.run([str(SCRIPT), "dev", "3"], env=env, capture_output=True, text=True, timeout=60)


def test_reports_when_the_first_vllm_and_gpu_series_arrive(tmp_path):
    result = _run(tmp_path, '{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}')
    assert result.returncode == 0, result.stderr
    assert "kubernetes:helm.sh/v3:Release vllm created" in result.stdout
    assert "first vLLM series in Prometheus" in result.stdout and "first GPU series in Prometheus" in result.stdout
    assert "pulumi up:" in result.stdout
    calls = (tmp_path / "kubectl.calls").read_text()
    assert "services/prometheus-operated:9090/proxy/api/v1/query?query=vllm:num_requests_running" in calls


def test_fails_and_says_so_when_the_metrics_never_arrive(tmp_path):
    result = _run(tmp_path, '{"status":"success","data":{"resultType":"vector","result":[]}}')
    assert result.returncode == 1
    assert "first vLLM metrics: not within 3s" in result.stdout


def test_is_shellcheck_clean():
    beside_python = Path(sys.executable).parent / "shellcheck"
    shellcheck = str(beside_python) if beside_python.exists() else require_tool("shellcheck")
    subprocess.run([shellcheck, str(SCRIPT)], check=True)
