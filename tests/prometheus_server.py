"""A real Prometheus (Debian's 2.42) on a free loopback port with a temporary data directory, for the
end-to-end test and the query-cost benchmark."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Prometheus:
    process: subprocess.Popen
    url: str
    log: Path

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=120) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            raise RuntimeError(f"{path} {params}: {error.read().decode()[:500]}") from None
        if body.get("status") != "success":
            raise RuntimeError(f"{path} {params}: {body}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = at
        return self.get("/api/v1/query", **params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.get("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"]

    def label_values(self, label: str, match: str, start: float | None = None, end: float | None = None) -> list[str]:
        params: dict[str, Any] = {"match[]": match}
        if start is not None:
            params |= {"start": start, "end": end}
        return self.get(f"/api/v1/label/{label}/values", **params)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(binary: str, workdir: Path, config: dict, rule_files: list[Path], data: Path | None = None) -> Prometheus:
    """Start Prometheus with this config and these rule files (data in ``data``, default a folder of
    ``workdir``); return once it reports ready."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = {**config, "rule_files": [str(p) for p in rule_files]}
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log = workdir / "prometheus.log"
    process = subprocess.Popen(
        [binary, f"--config.file={config_path}", f"--storage.tsdb.path={data or workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"],
        stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
                if response.status == 200:
                    return Prometheus(process, url, log)
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"prometheus not ready: {log.read_text()[-3000:]}")
