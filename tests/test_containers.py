"""The fourth layer: containers run as Kubernetes would run them, from the declared resources, with the real
packages at the pinned versions (tests/real_stack.py says what is real and what stands in; the prefetch
Job runs the real huggingface_hub against tests/fake_hf_hub.py).

One session-wide run (the ``real_run`` fixture): Llama Stack 0.7.3 from its Deployment and mounted run
config, the workload from its Job's command and mounted files, against a vLLM-like model server, with
every span and metric they send captured over OTLP.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from components import llama_stack as llama_stack_component
from dashboards import catalogue
from tests import pods, real_stack
from tests.collector_translation import replay_of
from tests.fake_hf_hub import COMMIT, FakeHfHub
from tests.fake_vllm import FakeVllm, Served
from tests.signals_support import bundle_for, metric_names, panel_queries, rule_exprs, substitute

DOCUMENTS = {path.name for path in (Path(__file__).resolve().parent.parent / "workload" / "documents").glob("*.md")}


def _spans(run, service: str, pattern: str):
    return [span for span in run.capture.spans if span.service == service and re.fullmatch(pattern, span.name)]


def test_llama_stack_runs_the_images_entrypoint_on_the_mounted_run_config(real_run):
    process = real_run.llama_stack
    mounted = process.host_path(f"{llama_stack_component.CONFIG_DIR}/config.yaml")
    assert process.argv == ["opentelemetry-instrument", "llama", "stack", "run", str(mounted)]
    # The declared config, with only the documented CI substitutions.
    declared = pods.one_named(real_run.program, "kubernetes:core/v1:ConfigMap", f"{llama_stack_component.NAME}-config")
    running = yaml.safe_load(mounted.read_text())
    expected = real_stack.ci_run_config(yaml.safe_load(declared.inputs["data"]["config.yaml"]), "")
    assert running["registered_resources"] == expected["registered_resources"]
    assert running["providers"].keys() == expected["providers"].keys()
    assert "Uvicorn running" in real_run.server_log or "Listening on" in real_run.server_log


def _running_ids(process: pods.Process) -> tuple[int, int]:
    """Who the process must be: its declared user, or, when the tests cannot switch users (not root),
    the non-root user running them."""
    return (process.uid, process.gid) if os.geteuid() == 0 else (os.getuid(), os.getgid())


def _shared_scratch_owned_by(uid: int) -> list[Path]:
    """What a user left in this machine's world-writable directories (the pod has none of them)."""
    return [path for top in ("/tmp", "/var/tmp", "/dev/shm") if Path(top).is_dir()
            for path in Path(top).iterdir() if path.lstat().st_uid == uid]


def test_llama_stack_serves_as_its_declared_non_root_user_and_writes_only_its_volumes(real_run):
    process = real_run.llama_stack
    assert process.uid != 0 and process.read_only_root
    assert real_run.server_ids == _running_ids(process)
    state = process.host_path(llama_stack_component.STATE_DIR)
    written = [path for path in state.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in written), written
    assert {path.stat().st_uid for path in written} == {_running_ids(process)[0]}
    if os.geteuid() == 0:
        assert _shared_scratch_owned_by(process.uid) == []


def test_the_workload_installs_its_client_and_runs_as_its_declared_non_root_user(real_run):
    process = real_run.workload
    assert process.uid != 0 and process.read_only_root
    installed = [path for path in (process.host_path("/tmp") / "deps").rglob("*")]
    assert installed and {path.lstat().st_uid for path in installed} == {_running_ids(process)[0]}
    if os.geteuid() == 0:
        assert _shared_scratch_owned_by(process.uid) == []


def test_the_judge_sampler_installs_its_client_and_runs_as_its_declared_non_root_user(real_run):
    process = real_run.judge_sampler
    assert process is not None and process.uid != 0 and process.read_only_root
    installed = list((process.host_path("/tmp") / "deps").rglob("*"))
    assert installed and {path.lstat().st_uid for path in installed} == {_running_ids(process)[0]}


def test_the_workload_runs_from_its_mounted_files_with_the_jobs_own_command(real_run):
    process = real_run.workload
    source = process.host_path("/opt/workload-src")
    assert process.argv[:2] == ["sh", "-c"] and process.argv[2].endswith("exec python -m workload all")
    assert str(source) in process.env["PYTHONPATH"].split(":")
    assert (source / "workload" / "__main__.py").is_file()
    assert Path(real_stack.ROOT, "workload") not in [Path(p) for p in process.env["PYTHONPATH"].split(":")]


def test_every_agent_session_and_the_load_phase_succeed(real_run):
    output = real_run.workload_output
    assert real_run.workload_exit == 0, output[-4000:]
    assert re.search(r"\[agent\] requests \d+, errors 0", output), output[-4000:]
    assert re.search(r"\[load\] requests \d+, errors 0", output), output[-4000:]
    assert real_run.model_server.counters.unknown_models == []


def test_the_model_servers_api_key_reaches_llama_stack_the_load_phase_and_the_judge(real_run):
    # The stand-in demanded the key the declared vLLM container reads; nothing it refused means every
    # client (Llama Stack's chat and embedding calls, the load phase, the judge) got it from its own pod spec.
    assert real_run.model_server.api_key
    assert real_run.model_server.counters.unauthorized == []
    assert real_run.model_server.judged > 0
    assert sum(real_run.model_server.counters.requests.values()) > 0


def test_the_vllm_stand_in_refuses_v1_without_the_key_and_keeps_health_and_metrics_open():
    served = Served(chat_model="m", embedding_model="e", embedding_dimension=8)
    with FakeVllm(served, api_key="k3y") as server:
        def get(path: str, key: str | None = None) -> int:
            request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {key}"} if key else {})
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        assert [get("/v1/models"), get("/v1/models", "wrong"), get("/v1/models", "k3y")] == [401, 401, 200]
        assert [get("/health"), get("/metrics")] == [200, 200]


def test_the_shield_refuses_the_harmful_prompts_and_passes_the_others(real_run):
    # The scripted session's prompt, and the known-answer set's unsafe question (tests/real_stack.py asks them all).
    assert "refused by shield llama-guard" in real_run.workload_output
    assert "[agent] tool calls" in real_run.workload_output and "refusals 2" in real_run.workload_output
    shields = _spans(real_run, "llama-stack", r"run_shield .+")
    violations = [s for s in shields if s.attributes.get("llama_stack.safety.response.violation.level") == "error"]
    assert len(violations) == 2 and len(shields) > 2, sorted(real_run.capture.span_names("llama-stack"))
    # Inside the refused sessions' traces.
    sessions = {s.trace_id: s.name for s in _spans(real_run, "workload", r"session .+")}
    assert sorted(sessions[v.trace_id] for v in violations) == ["session known-answer unsafe-weapon", "session refused"]


def test_a_rag_answer_cites_a_bundled_document(real_run):
    cited = {name.strip() for line in re.findall(r"sources: (.+)", real_run.workload_output) for name in line.split(",")}
    assert cited and cited <= DOCUMENTS, real_run.workload_output[-4000:]
    assert _spans(real_run, "llama-stack", "file_search"), sorted(real_run.capture.span_names("llama-stack"))


def test_function_tools_are_traced_and_counted_by_the_workload_inside_the_session(real_run):
    tools = _spans(real_run, "workload", r"execute_tool .+")
    assert {s.attributes["gen_ai.tool.name"] for s in tools} == {"instance_price", "calculate"}
    sessions = {s.trace_id for s in _spans(real_run, "workload", r"session .+")}
    assert all(s.trace_id in sessions and s.parent_span_id for s in tools)
    counted = real_run.capture.metrics("workload")["workload.tool.invocations"]
    assert sum(p.value for p in counted) == len(tools)
    durations = real_run.capture.metrics("workload")["workload.tool.duration"]
    assert {p.bounds[0] for p in durations} == {catalogue.FIRST_BUCKET["workload_tool_duration_seconds"]}


def test_llama_stacks_spans_join_the_sessions_traces(real_run):
    sessions = {s.trace_id for s in _spans(real_run, "workload", r"session .+")}
    responses = _spans(real_run, "llama-stack", r"POST /v1/responses")
    assert responses and all(s.trace_id in sessions for s in responses)
    assert _spans(real_run, "llama-stack", r"chat .+")


def test_the_captured_telemetry_holds_every_series_the_quality_dashboards_read(real_run):
    served = {name for name, _, _ in replay_of(real_run).samples}
    bundle = bundle_for()
    read = set()
    for uid, _, expr in panel_queries(bundle):
        if uid in ("llmobs-quality", "llmobs-traces"):
            read |= metric_names(substitute(expr))
    for _, expr in rule_exprs(bundle):
        read |= metric_names(expr)
    from_collector = set(catalogue.LLAMA_STACK) | set(catalogue.WORKLOAD) | set(catalogue.SPAN_METRICS)
    assert read & from_collector <= served
    # And the catalogue lists nothing the real components do not send.
    assert from_collector <= served


def test_the_quantiles_know_the_first_bucket_the_real_histograms_have(real_run):
    """promql.quantile drops values under the first bound: it must be the bound the series really have."""
    replay = replay_of(real_run)
    for name in ("workload_tool_duration_seconds", "traces_span_metrics_duration_seconds",
                 "llama_stack_vector_io_retrieval_duration_seconds"):
        bounds = {float(labels["le"]) for metric, labels, _ in replay.samples if metric == f"{name}_bucket"}
        assert min(bounds) == catalogue.FIRST_BUCKET[name], name


def test_the_model_server_stand_in_exports_only_the_catalogues_vllm_names(real_run):
    exposition = real_run.model_server.exposition()
    names = {line.split("{")[0] for line in exposition.splitlines() if line}
    assert names and names <= set(catalogue.VLLM)
    assert 'finished_reason="stop"' in exposition


def test_the_prefetch_job_fills_the_cache_where_the_model_servers_read_it(dev_program):
    """The declared prefetch Job's own command, with the real huggingface_hub, against a loopback Hub; the
    files must land in the claim under the path the model servers' pvc+hf:// URI names."""
    job = pods.one_named(dev_program, "kubernetes:batch/v1:Job", labels={"app.kubernetes.io/name": "model-prefetch"})
    with pods.node_directory("prefetch-") as root:
        _prefetch_fills_the_claim(dev_program, job, pods.build(dev_program, job, root))


def _prefetch_fills_the_claim(dev_program, job, process: pods.Process) -> None:
    claim_volume = next(v for v in pods.pod_spec(job)["volumes"] if "persistentVolumeClaim" in v)
    release = next(r for r in dev_program.of_type("kubernetes:helm.sh/v3:Release")
                   if r.inputs.get("chart", "").endswith("llm-d-modelservice"))
    artifacts = release.inputs["values"]["modelArtifacts"]
    claim, in_claim, model = re.fullmatch(r"pvc\+hf://([^/]+)/([^/]+)/(.+)", artifacts["uri"]).groups()
    assert claim == claim_volume["persistentVolumeClaim"]["claimName"] and model == artifacts["name"]
    # Distinct contents: the cache stores one blob per ETag. README.md is outside the Job's allow_patterns.
    files = {"config.json": b'{"model_type": "qwen2"}', "model.safetensors": b"\0" * 64,
             "tokenizer.json": b'{"version": "1.0"}', "README.md": b"# card"}
    with FakeHfHub(files) as hub:
        # CI-only substitution: the Hub's address (HF_ENDPOINT) on loopback.
        env = {**process.env, "HF_ENDPOINT": hub.url, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        # As the Job's declared user, on a claim as MiniKube's provisioner creates it.
        completed = subprocess.run(pods.run_as(process, reads=[Path(sys.executable)]), env=env, capture_output=True,
                                   text=True, timeout=120, cwd="/")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert hub.requested == [model] and sorted(hub.downloaded) == ["config.json", "model.safetensors", "tokenizer.json"]
    mount = next(m["mountPath"] for m in pods.pod_spec(job)["containers"][0]["volumeMounts"] if m["name"] == claim_volume["name"])
    snapshot = process.host_path(mount) / in_claim / f"models--{model.replace('/', '--')}" / "snapshots" / COMMIT
    assert sorted(p.name for p in snapshot.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert f"weights cached in {snapshot}" in completed.stdout
    assert {path.lstat().st_uid for path in snapshot.parent.parent.rglob("*")} == {_running_ids(process)[0]}


def test_the_pod_builder_refuses_what_the_kubelet_refuses_and_an_undeclared_user():
    container = {"name": "a", "securityContext": {"runAsUser": 0}}
    with pytest.raises(PermissionError, match="runAsNonRoot with runAsUser 0"):
        pods.security({"securityContext": {"runAsNonRoot": True, "runAsUser": 10, "runAsGroup": 10}}, container)
    with pytest.raises(NotImplementedError, match="declare runAsUser"):
        pods.security({}, {"name": "a"})
    spec = {"securityContext": {"runAsUser": 7, "runAsGroup": 8, "fsGroup": 9, "supplementalGroups": [11]}}
    assert pods.security(spec, {"name": "a", "securityContext": {"readOnlyRootFilesystem": True}}) == (7, 8, (9, 11), True)
