"""Namespace llm under mocks: model serving, Llama Stack, the workload Job, and the no-GPU simulator mode."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from components import model_serving, workload_job
from stack import versions
from stack.config import ConfigError, declared_settings
from stack.workloads import LLM_NAMESPACE
from tests.harness import Program, run_program

OTLP_GRPC_ENDPOINT = "http://otel-collector.monitoring.svc.cluster.local:4317"
OTLP_HTTP_ENDPOINT = "http://otel-collector.monitoring.svc.cluster.local:4318"

RELEASE = "kubernetes:helm.sh/v3:Release"
PODMONITOR = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"
CRONJOB = "kubernetes:batch/v1:CronJob"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SERVICE = "kubernetes:core/v1:Service"
ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = {"servingMode": "simulator", "instanceType": "m7i.2xlarge"}


@pytest.fixture(scope="module")
def simulator_program() -> Program:
    return run_program("dev", SIMULATOR)


def _server_container(program: Program) -> dict:
    values = program.one(RELEASE, "modelservice").inputs["values"]
    [container] = values["decode"]["containers"]
    return container


def _env(container: dict) -> dict[str, str]:
    return {item["name"]: item.get("value") for item in container["env"]}


def _llama_stack_config(program: Program) -> dict:
    return yaml.safe_load(program.one(CONFIGMAP, "llama-stack-config").inputs["data"]["config.yaml"])


def test_vllm_serves_the_default_model_on_every_gpu_through_llm_d_modelservice(dev_program):
    release = dev_program.one(RELEASE, "modelservice")
    assert release.inputs["chart"] == "llm-d-modelservice"
    assert release.inputs["version"] == versions.LLM_D_MODELSERVICE.version
    assert release.inputs["repositoryOpts"]["repo"] == versions.LLM_D_MODELSERVICE.repo
    assert release.inputs["namespace"] == LLM_NAMESPACE
    values = release.inputs["values"]
    assert values["modelArtifacts"]["name"] == "Qwen/Qwen2.5-7B-Instruct"
    # One replica per L4 of the g6.12xlarge, one GPU each.
    assert values["decode"]["replicas"] == 4
    assert values["decode"]["parallelism"] == {"tensor": 1}
    container = _server_container(dev_program)
    assert container["image"] == versions.VLLM_IMAGE.reference == "docker.io/vllm/vllm-openai:v0.33.0"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    args = container["args"]
    assert args[args.index("--max-model-len") + 1] == "16384"
    assert args[args.index("--gpu-memory-utilization") + 1] == "0.9"
    assert args[args.index("--tool-call-parser") + 1] == "hermes"
    assert "--enable-prefix-caching" in args and "--enable-auto-tool-choice" in args


def test_vllm_sends_detailed_traces_to_the_collector_over_grpc(dev_program):
    tracing = dev_program.one(RELEASE, "modelservice").inputs["values"]["tracing"]
    assert tracing["enabled"] is True
    assert tracing["otlpEndpoint"] == OTLP_GRPC_ENDPOINT
    assert tracing["vllm"]["collectDetailedTraces"] == "all"


def test_weights_are_prefetched_into_the_cache_volume_the_model_servers_mount(dev_program):
    claim = dev_program.one("kubernetes:core/v1:PersistentVolumeClaim", "model-cache")
    assert claim.inputs["metadata"]["name"] == model_serving.CACHE_CLAIM
    assert claim.inputs["spec"]["resources"]["requests"]["storage"] == "100Gi"
    artifacts = dev_program.one(RELEASE, "modelservice").inputs["values"]["modelArtifacts"]
    assert artifacts["uri"] == "pvc+hf://model-cache/hub/Qwen/Qwen2.5-7B-Instruct"
    assert artifacts["readOnly"] is False
    prefetch = dev_program.one(JOB, "prefetch")
    [container] = prefetch.inputs["spec"]["template"]["spec"]["containers"]
    # Same image as the servers: the download also pre-pulls the image onto the node.
    assert container["image"] == versions.VLLM_IMAGE.reference
    assert "Qwen/Qwen2.5-7B-Instruct" in container["command"][-1]
    assert _env(container)["HF_HUB_CACHE"] == "/model-cache/hub"
    assert "nvidia.com/gpu" not in container["resources"]["requests"]
    # Serving does not wait for the download (nor for anything of the platform).
    release = dev_program.one(RELEASE, "modelservice")
    assert prefetch.urn not in release.dependencies


def test_prefetch_runs_on_the_gpu_nodes_where_the_model_servers_mount_its_volume():
    # One GPU node among system nodes: the shared (zonal, ReadWriteOnce) cache is bound where the Job
    # runs, so the Job must run where the model servers will.
    program = run_program("dev", {"clusterBackend": "eks", "gpuNodes": 1})
    decode = program.one(RELEASE, "modelservice").inputs["values"]["decode"]
    pod = program.one(JOB, "prefetch").inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == decode["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert pod["tolerations"] == decode["tolerations"]


def test_no_hugging_face_token_means_no_secret_and_a_token_becomes_a_kubernetes_secret(dev_program):
    assert [s for s in dev_program.of_type("kubernetes:core/v1:Secret") if "hf-token" in s.name] == []
    program = run_program("dev", {"hfToken": "hf_example_not_a_real_token"}, secret_keys=("hfToken",))
    secret = program.one("kubernetes:core/v1:Secret", "hf-token")
    assert secret.inputs["metadata"]["namespace"] == LLM_NAMESPACE
    values = program.one(RELEASE, "modelservice").inputs["values"]
    assert values["modelArtifacts"]["authSecretName"] == secret.inputs["metadata"]["name"]
    assert "hf_example_not_a_real_token" not in str(values)


def test_a_podmonitor_scrapes_every_model_server_pod_as_job_vllm(dev_program):
    monitor = dev_program.one(PODMONITOR)
    service = dev_program.one(SERVICE, "model-service")
    spec = monitor.inputs["spec"]
    assert spec["selector"]["matchLabels"] == service.inputs["spec"]["selector"]
    assert spec["selector"]["matchLabels"]["llm-d.ai/role"] == "decode"
    [endpoint] = spec["podMetricsEndpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert {"targetLabel": "job", "replacement": "vllm", "action": "replace"} in endpoint["relabelings"]
    # The pods carry the labels the PodMonitor selects, and name the port it scrapes.
    values = dev_program.one(RELEASE, "modelservice").inputs["values"]
    assert model_serving.POD_LABELS.items() <= values["modelArtifacts"]["labels"].items()
    assert {"containerPort": 8000, "name": "http", "protocol": "TCP"} in _server_container(dev_program)["ports"]
    # The chart's own PodMonitor stays off: one scrape per pod.
    assert values["decode"]["monitoring"]["podmonitor"]["enabled"] is False


def test_model_service_is_cluster_ip_and_is_the_model_endpoint_output(dev_program):
    service = dev_program.one(SERVICE, "model-service")
    assert service.inputs["spec"]["type"] == "ClusterIP"
    assert dev_program.outputs["modelEndpoint"] == "http://model-server.llm.svc.cluster.local:8000/v1"
    assert dev_program.outputs["llamaStackEndpoint"] == "http://llamastack.llm.svc.cluster.local:8321"
    assert dev_program.outputs["workloadCommand"] == "scripts/run-workload.sh dev"


def test_llama_stack_sends_otlp_over_http_to_the_collector_through_standard_env(dev_program):
    deployment = dev_program.one(DEPLOYMENT, "llama-stack")
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert container["image"] == versions.LLAMA_STACK_IMAGE.reference == "docker.io/llamastack/distribution-starter:0.7.3"
    env = _env(container)
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP_HTTP_ENDPOINT
    assert env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert env["OTEL_SERVICE_NAME"] == "llama-stack"
    assert env["RUN_CONFIG_PATH"] == "/etc/llama-stack/config.yaml"
    # Removed in Llama Stack 0.4: setting it would only mislead.
    assert "TELEMETRY_SINKS" not in env
    # The dev stack records prompts and responses in spans.
    assert env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == "SPAN_ONLY"
    service = dev_program.one(SERVICE, "llama-stack")
    assert service.inputs["spec"]["type"] == "ClusterIP"


def test_trace_content_capture_is_off_unless_the_stack_turns_it_on():
    program = run_program("dev", {"traceContent": False})
    [container] = program.one(DEPLOYMENT, "llama-stack").inputs["spec"]["template"]["spec"]["containers"]
    assert _env(container)["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] == "NO_CONTENT"


def test_llama_stack_run_config_uses_vllm_a_vector_store_file_search_and_a_shield(dev_program):
    config = _llama_stack_config(dev_program)
    [vllm, embeddings] = config["providers"]["inference"]
    assert vllm["provider_type"] == "remote::vllm"
    assert vllm["config"]["base_url"] == dev_program.outputs["modelEndpoint"]
    assert embeddings["provider_type"] == "inline::sentence-transformers"
    assert [p["provider_type"] for p in config["providers"]["vector_io"]] == ["inline::sqlite-vec"]
    assert [p["provider_type"] for p in config["providers"]["tool_runtime"]] == ["inline::file-search"]
    models = {m["provider_model_id"]: m for m in config["registered_resources"]["models"]}
    assert models["Qwen/Qwen2.5-7B-Instruct"]["provider_id"] == "vllm"
    assert models["sentence-transformers/all-MiniLM-L6-v2"]["metadata"] == {"embedding_dimension": 384}
    [shield] = config["registered_resources"]["shields"]
    # The shield asks the model by the id Llama Stack registered it under, or every shield call fails.
    assert shield == {"shield_id": "llama-guard", "provider_id": "llama-guard",
                      "provider_shield_id": "vllm/Qwen/Qwen2.5-7B-Instruct"}
    assert config["vector_stores"]["default_embedding_model"]["model_id"] == "sentence-transformers/all-MiniLM-L6-v2"


def test_llama_stack_clients_name_the_model_as_llama_stack_0_7_registers_it(dev_program):
    """Llama Stack 0.7 registers <provider_id>/<provider_model_id> (core/routing_tables/models.py at 0.7.3)."""
    config = _llama_stack_config(dev_program)
    [llm] = [m for m in config["registered_resources"]["models"] if m["model_type"] == "llm"]
    registered = f"{llm['provider_id']}/{llm['provider_model_id']}"
    assert registered == dev_program.outputs["llamaStackModelId"] == "vllm/Qwen/Qwen2.5-7B-Instruct"
    # The config says what gets registered: its model_id is no alias in 0.7.
    assert llm["model_id"] == registered
    [shield] = config["registered_resources"]["shields"]
    assert shield["provider_shield_id"] == registered
    program = run_program("dev", {"workloadJob": True})
    [container] = program.one(JOB, "workload").inputs["spec"]["template"]["spec"]["containers"]
    env = _env(container)
    # The agent phase talks to Llama Stack, the load phase to vLLM by the served name.
    assert env["STACK_MODEL_ID"] == registered and env["MODEL_ID"] == llm["provider_model_id"]


def test_the_workload_job_is_off_by_default(dev_program):
    assert not [r for r in dev_program.of_type(JOB) if "workload" in r.name]
    assert dev_program.of_type(CRONJOB) == []


def test_the_workload_job_runs_the_bundled_package_against_the_stack_when_enabled():
    program = run_program("dev", {"workloadJob": True, "loadRequestRate": "5", "loadRequests": 50})
    job = program.one(JOB, "workload")
    assert job.inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    pod = job.inputs["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == versions.WORKLOAD_PYTHON_IMAGE.reference
    assert "llama-stack-client==0.7.5" in container["command"][-1]
    assert container["command"][-1].endswith("python -m workload all")
    env = _env(container)
    assert env["LLAMA_STACK_URL"] == program.outputs["llamaStackEndpoint"]
    assert env["MODEL_URL"] == program.outputs["modelEndpoint"]
    assert env["LOAD_REQUEST_RATE"] == "5" and env["LOAD_REQUESTS"] == "50"
    assert env["SHIELD_ID"] == "llama-guard"
    # Answer quality: half the sessions ask known questions; the served model judges a fifth of the answers.
    assert env["KNOWN_ANSWER_SHARE"] == "0.5" and env["JUDGE_SAMPLE_SHARE"] == "0.2"
    assert env["JUDGE_URL"] == program.outputs["modelEndpoint"] and env["JUDGE_MODEL"] == "Qwen/Qwen2.5-7B-Instruct"
    # Each agent session's root span goes to the collector, so a session is one trace.
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == OTLP_HTTP_ENDPOINT


def _configmap_volume_files(program: Program, pod: dict, container: dict) -> dict[str, str]:
    """What the kubelet writes for each ConfigMap volume the container mounts: the text of every item's key
    at <mountPath>/<item path>. The API server takes only keys of [-._a-zA-Z0-9] (at most 253) and item
    paths that are relative with no '..' element; a key missing from the ConfigMap fails the mount."""
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    files = {}
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        [config_map] = [c for c in program.of_type(CONFIGMAP) if c.inputs["metadata"]["name"] == source["name"]]
        data = config_map.inputs["data"]
        assert all(re.fullmatch(r"[-._a-zA-Z0-9]{1,253}", key) for key in data)
        assert sum(len(key) + len(text.encode()) for key, text in data.items()) < 1024 * 1024
        for item in source["items"]:
            path = PurePosixPath(item["path"])
            assert not path.is_absolute() and ".." not in path.parts, item
            files[str(PurePosixPath(mount["mountPath"]) / path)] = data[item["key"]]
    return files


def test_the_workload_pod_finds_every_file_of_the_package_under_its_own_path():
    program = run_program("dev", {"workloadJob": True})
    pod = program.one(JOB, "workload").inputs["spec"]["template"]["spec"]
    [container] = pod["containers"]
    committed = subprocess.run(["git", "ls-files", "workload"], cwd=ROOT, capture_output=True, text=True, check=True)
    source_tree = {f"{workload_job.MOUNT}/{path}": (ROOT / path).read_text() for path in committed.stdout.split()}
    assert "/opt/workload-src/workload/__main__.py" in source_tree
    assert _configmap_volume_files(program, pod, container) == source_tree
    assert workload_job.MOUNT in _env(container)["PYTHONPATH"].split(":")


def test_a_workload_schedule_makes_it_a_cronjob():
    program = run_program("dev", {"workloadJob": True, "workloadSchedule": "0 */6 * * *"})
    cronjob = program.one(CRONJOB)
    assert cronjob.inputs["spec"]["schedule"] == "0 */6 * * *"
    assert not [r for r in program.of_type(JOB) if "workload" in r.name]


def _namespace_of(resource) -> str | None:
    return resource.inputs.get("namespace") or resource.inputs.get("metadata", {}).get("namespace")


def _llm_objects(program: Program) -> list:
    """The workloads' Kubernetes objects: everything in namespace llm, besides the namespace itself."""
    return [r for r in program.resources if r.type.startswith("kubernetes:") and _namespace_of(r) == LLM_NAMESPACE]


def test_every_llm_resource_uses_the_cluster_provider_and_namespace_llm(dev_program):
    provider = dev_program.one("pulumi:providers:kubernetes")
    assert _llm_objects(dev_program)
    for resource in _llm_objects(dev_program):
        assert resource.provider.startswith(provider.urn), resource.name
    assert dev_program.one("kubernetes:core/v1:Namespace", "-llm").inputs["metadata"]["name"] == "llm"


def test_every_llm_resource_waits_for_its_namespace():
    # Pulumi does not hand a component's depends_on to its children: each must name the namespace itself.
    program = run_program("dev", {"workloadJob": True, "router": True, "hfToken": "hf_example"}, secret_keys=("hfToken",))
    namespace = program.one("kubernetes:core/v1:Namespace", "-llm")
    in_llm = _llm_objects(program)
    assert len(in_llm) == 23 + 4  # 14 objects of the workloads and 9 NetworkPolicies (3 ingress, 6 egress), and the judge sampler's 3 objects and 1 policy
    assert [r.name for r in in_llm if namespace.urn not in r.dependencies] == []


def test_serving_waits_for_nothing_of_the_platform_or_of_llama_stack(dev_program):
    namespace = dev_program.one("kubernetes:core/v1:Namespace", "-llm").urn
    claim = dev_program.one("kubernetes:core/v1:PersistentVolumeClaim").urn
    # The API key's Secret: the servers and Llama Stack read it at start.
    api_key = dev_program.one("kubernetes:core/v1:Secret", "model-api-key").urn
    assert sorted(dev_program.one(RELEASE, "modelservice").dependencies) == sorted([namespace, claim, api_key])
    config_map = dev_program.one(CONFIGMAP, "llama-stack-config").urn
    assert sorted(dev_program.one(DEPLOYMENT, "llama-stack").dependencies) == sorted([namespace, api_key, config_map])


# --- The no-GPU mode -----------------------------------------------------------------------------------


def test_simulator_mode_runs_llm_d_inference_sim_on_a_cpu_instance(simulator_program):
    instance = simulator_program.one("aws:ec2/instance:Instance")
    assert instance.inputs["instanceType"] == "m7i.2xlarge"
    values = simulator_program.one(RELEASE, "modelservice").inputs["values"]
    container = _server_container(simulator_program)
    assert container["image"] == versions.LLM_D_INFERENCE_SIM_IMAGE.reference == (
        "ghcr.io/llm-d/llm-d-inference-sim:v0.10.2@sha256:7f3a1f72875c5dd5d00299ad358dc1f6e17041a5124609a43aa17ad318bbed32"
    )
    assert container["modelCommand"] == "imageDefault"
    assert "nvidia.com/gpu" not in str(container["resources"])
    assert values["accelerator"]["type"] == "cpu"
    assert values["decode"]["replicas"] == 2
    # The simulator has no tracing flags and no weights to cache.
    assert values["tracing"]["enabled"] is False
    assert container["mountModelVolume"] is False
    assert simulator_program.of_type("kubernetes:core/v1:PersistentVolumeClaim") == []
    assert not [r for r in simulator_program.of_type(JOB) if "prefetch" in r.name]


def test_without_gpus_no_gpu_exporter_is_installed(simulator_program, dev_program):
    # Its pods would never be ready on a node without NVML, and its release waits for them.
    def releases(program):
        return {r.inputs["name"] for r in program.of_type(RELEASE)}

    assert "dcgm-exporter" in releases(dev_program)
    assert "dcgm-exporter" not in releases(simulator_program)
    assert "kube-prometheus-stack" in releases(simulator_program)


def test_simulator_metrics_are_renamed_to_vllms_at_scrape_time(simulator_program, dev_program):
    [endpoint] = simulator_program.one(PODMONITOR).inputs["spec"]["podMetricsEndpoints"]
    assert {"targetLabel": "job", "replacement": "vllm", "action": "replace"} in endpoint["relabelings"]
    renames = {r["regex"]: r["replacement"] for r in endpoint["metricRelabelings"] if r.get("targetLabel") == "__name__"}
    assert renames == {
        "vllm:(prefix_cache_hits|prefix_cache_queries)": "vllm:${1}_total",
        "vllm:max_num_generation_tokens_(bucket|sum|count)": "vllm:request_max_num_generation_tokens_${1}",
    }
    assert any(r.get("targetLabel") == "finished_reason" for r in endpoint["metricRelabelings"])
    assert any(r.get("targetLabel") == "engine" and r["replacement"] == "0" for r in endpoint["metricRelabelings"])
    # Real vLLM needs none of it.
    [real] = dev_program.one(PODMONITOR).inputs["spec"]["podMetricsEndpoints"]
    assert real["metricRelabelings"] == []


def test_minikube_on_a_cpu_host_starts_without_gpus_and_skips_the_gpu_check(simulator_program, dev_program):
    commands = {r.name.rsplit("-", 1)[-1]: r for r in simulator_program.of_type("command:remote:Command")}
    assert "gpus" not in commands  # no verify-gpus step
    # start-minikube.sh's last argument is the GPU count: 0 starts the node without --gpus.
    assert commands["start"].inputs["create"].endswith(" 0")
    user_data = simulator_program.one("aws:ec2/instance:Instance").inputs["userData"]
    assert "- '0'" in user_data or "- \"0\"" in user_data
    gpu_commands = {r.name.rsplit("-", 1)[-1] for r in dev_program.of_type("command:remote:Command")}
    assert "gpus" in gpu_commands


def _config_error(overrides: dict) -> str:
    with pytest.raises(ConfigError) as error:
        run_program("dev", overrides)
    assert not [r for r in error.value.program.resources if r.custom]  # nothing half-created
    return str(error.value)


def test_simulator_refuses_tensor_parallelism():
    message = _config_error({**SIMULATOR, "tensorParallelSize": 2})
    assert "llm-observability:tensorParallelSize: 2" in message and "simulator" in message


def test_real_serving_refuses_a_cpu_instance_type_naming_both_settings():
    message = _config_error({"instanceType": "m7i.2xlarge"})
    assert "llm-observability:instanceType: 'm7i.2xlarge' has no GPU" in message
    assert "llm-observability:servingMode=simulator" in message


def test_replicas_times_tensor_parallelism_must_fit_the_gpus():
    message = _config_error({"modelReplicas": 3, "tensorParallelSize": 2})
    assert "llm-observability:modelReplicas: 3 replicas x" in message and "allowed: 0" in message


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"servingMode": "ollama"}, "llm-observability:servingMode: 'ollama' is not a serving mode; allowed: vllm, simulator"),
        ({"gpuMemoryUtilization": "0.99"}, "llm-observability:gpuMemoryUtilization: '0.99' is out of range"),
        ({"modelId": "not a model"}, "llm-observability:modelId: 'not a model' is not a Hugging Face model id"),
        ({"modelId": "acme/secret-model"}, "llm-observability:toolCallParser: no parser known"),
        ({"workloadSchedule": "hourly"}, "llm-observability:workloadSchedule: 'hourly' is not a cron schedule"),
        ({"workloadSchedule": "0 * * * *"}, "llm-observability:workloadJob=true too"),
        ({"loadPromptTokens": 16000, "loadOutputTokens": 1000}, "exceed llm-observability:maxModelLen 16384"),
        ({"embeddingModel": "acme/embedder"}, "llm-observability:embeddingModel: 'acme/embedder' is not a known"),
        ({"tensorParallelSize": 3}, "llm-observability:tensorParallelSize: 3 does not fit g6.12xlarge"),
    ],
)
def test_bad_workload_settings_are_refused_with_the_key_and_what_is_allowed(overrides, expected):
    assert expected in _config_error(overrides)


# --- The optional router -------------------------------------------------------------------------------


def test_the_router_is_off_by_default(dev_program):
    assert [r.name for r in _llm_objects(dev_program) if r.type == RELEASE] == ["llm-observability-dev-model-modelservice"]
    assert [r for r in _llm_objects(dev_program) if r.type.endswith(":ServiceMonitor")] == []


def test_router_puts_llm_ds_epp_in_front_of_the_model_servers_and_is_scraped_as_llm_d_epp(dev_program):
    program = run_program("dev", {"router": True})
    router = program.one(RELEASE, "router")
    assert router.inputs["chart"] == versions.LLM_D_ROUTER.reference == "oci://ghcr.io/llm-d/charts/llm-d-router-standalone"
    assert "repositoryOpts" not in router.inputs
    assert router.inputs["version"] == versions.LLM_D_ROUTER.version == "v0.10.0"
    values = router.inputs["values"]["router"]
    pod_selector = program.one(PODMONITOR).inputs["spec"]["selector"]["matchLabels"]
    assert values["modelServers"]["matchLabels"] == pod_selector
    assert values["modelServers"]["targetPorts"] == [{"number": 8000}]
    assert values["inferencePool"]["create"] is False
    assert values["epp"]["image"]["tag"] == f"v0.10.0@{versions.LLM_D_EPP_IMAGE.digest}"
    assert values["tracing"]["otelExporterEndpoint"] == OTLP_GRPC_ENDPOINT
    monitor = program.one("kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
    [endpoint] = monitor.inputs["spec"]["endpoints"]
    assert endpoint["port"] == "http-metrics"
    assert {"targetLabel": "job", "replacement": "llm-d-epp", "action": "replace"} in endpoint["relabelings"]
    # Clients (Llama Stack, the workload, the output) go through the router.
    assert program.outputs["modelEndpoint"] == "http://router-epp.llm.svc.cluster.local:8081/v1"
    assert _llama_stack_config(program)["providers"]["inference"][0]["config"]["base_url"] == program.outputs["modelEndpoint"]


@pytest.mark.parametrize("gpu_count, expect_gpus", [(4, True), (0, False)])
def test_start_minikube_passes_gpus_only_when_the_host_has_them(tmp_path, gpu_count, expect_gpus):
    """start-minikube.sh with a stand-in `sudo` that keeps the systemd unit it writes and runs nothing."""
    (tmp_path / "sudo").write_text(f'#!/usr/bin/env bash\nif [ "$1" = tee ]; then cat > "{tmp_path}/unit"; fi\n')
    (tmp_path / "sudo").chmod(0o755)
    script = ROOT / "components" / "scripts" / "start-minikube.sh"
    subprocess.run(
        ["bash", str(script), "46", "0", "v1.34.0", "203.0.113.10", "8443", "192.168.49.2", str(gpu_count)],
        env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"},
        check=True,
    )
    [command] = [line for line in (tmp_path / "unit").read_text().splitlines() if line.startswith("ExecStart=")]
    assert command.startswith("ExecStart=/usr/local/bin/minikube start") and "--cpus=46" in command
    assert ("--gpus=all" in command) is expect_gpus


WORKLOAD_SETTINGS = (
    "servingMode", "modelId", "modelReplicas", "tensorParallelSize", "maxModelLen", "gpuMemoryUtilization",
    "toolCallParser", "modelCacheGiB", "hfToken", "router", "traceContent", "safetyShield", "embeddingModel",
    "workloadJob", "workloadSchedule", "loadRequestRate", "loadRequests", "loadPromptTokens", "loadOutputTokens",
    "loadConcurrency",
)


@pytest.mark.parametrize("key", WORKLOAD_SETTINGS)
def test_every_workload_setting_is_declared_once_with_type_default_and_description(key):
    declaration = declared_settings()[key]
    assert declaration["type"] in {"string", "integer", "boolean"}
    assert "default" in declaration and declaration["description"].strip()
    assert f"| `{key}` |" in (ROOT / "README.md").read_text()


def test_the_judge_can_be_another_model_at_another_endpoint():
    program = run_program("dev", {"workloadJob": True, "judgeEndpoint": "http://judge.llm.svc.cluster.local:8000/v1",
                                  "judgeModel": "meta-llama/Llama-3.1-70B-Instruct", "judgeSampleShare": "0.05"})
    env = _env(program.one(JOB, "workload").inputs["spec"]["template"]["spec"]["containers"][0])
    assert env["JUDGE_URL"] == "http://judge.llm.svc.cluster.local:8000/v1"
    assert env["JUDGE_MODEL"] == "meta-llama/Llama-3.1-70B-Instruct" and env["JUDGE_SAMPLE_SHARE"] == "0.05"


# --- The model servers' API key ----------------------------------------------------------------------

SECRET = "kubernetes:core/v1:Secret"
MOCK_KEY = "mock-random-password-0123456789"
KEY_REF = {"secretKeyRef": {"name": model_serving.API_KEY_SECRET, "key": model_serving.API_KEY_ENV}}


def _value_from(container: dict) -> dict[str, dict]:
    return {item["name"]: item["valueFrom"] for item in container["env"] if "valueFrom" in item}


@pytest.fixture(scope="module")
def workload_program() -> Program:
    return run_program("dev", {"workloadJob": True})


def test_the_model_servers_api_key_is_generated_as_a_pulumi_secret_in_a_secret_of_namespace_llm(dev_program):
    key = dev_program.one("random:index/randomPassword:RandomPassword", "model-api-key")
    assert key.inputs["length"] >= 32
    [secret] = [s for s in dev_program.of_type(SECRET) if s.inputs["metadata"]["name"] == model_serving.API_KEY_SECRET]
    assert secret.inputs["metadata"]["namespace"] == LLM_NAMESPACE
    assert "stringData" in secret.secret_inputs
    assert secret.inputs["stringData"] == {model_serving.API_KEY_ENV: MOCK_KEY}
    assert secret.urn in dev_program.one(RELEASE, "modelservice").dependencies


def test_vllm_reads_its_api_key_from_the_secret_through_the_variable_vllm_0_33_reads():
    # vllm/envs.py of the pinned release (tests/reference/vllm-envs.txt) reads VLLM_API_KEY; without --api-key
    # its server then refuses /v1/* without the bearer token.
    assert model_serving.API_KEY_ENV in (ROOT / "tests/reference/vllm-envs.txt").read_text().split()


def test_vllm_requires_the_api_key_and_takes_it_from_the_secret_not_its_arguments(dev_program):
    container = _server_container(dev_program)
    assert _value_from(container) == {model_serving.API_KEY_ENV: KEY_REF}
    assert not any("api-key" in arg for arg in container["args"])


def test_the_api_key_appears_in_no_resource_input_but_the_secrets_own_data(workload_program, simulator_program):
    for program in (workload_program, simulator_program):
        for resource in program.resources:
            visible = {k: v for k, v in resource.inputs.items() if k not in resource.secret_inputs}
            if resource.type == "random:index/randomPassword:RandomPassword":
                continue
            assert MOCK_KEY not in repr(visible), resource.name
        assert MOCK_KEY not in repr({k: v for k, v in program.outputs.items() if k not in program.secret_outputs})


def test_llama_stack_sends_the_api_key_from_the_secret_as_its_vllm_providers_api_token(dev_program):
    [provider] = [p for p in _llama_stack_config(dev_program)["providers"]["inference"] if p["provider_id"] == "vllm"]
    # VLLMInferenceAdapterConfig (llama-stack 0.7.3) takes the key as api_token, an alias of auth_credential.
    assert provider["config"]["api_token"] == "${env.VLLM_API_TOKEN}"
    deployment = dev_program.one(DEPLOYMENT, "llama-stack")
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert _value_from(container) == {"VLLM_API_TOKEN": KEY_REF}


def test_the_workload_sends_the_api_key_to_the_model_servers_and_to_the_judge_when_it_is_them(workload_program):
    container = workload_program.one(JOB, "workload").inputs["spec"]["template"]["spec"]["containers"][0]
    assert _value_from(container) == {"MODEL_API_KEY": KEY_REF, "JUDGE_API_KEY": KEY_REF}


def test_a_judge_at_another_endpoint_never_gets_the_model_servers_api_key():
    program = run_program("dev", {"workloadJob": True, "judgeEndpoint": "http://judge.example.internal:8000/v1",
                                  "judgeModel": "judge"})
    container = program.one(JOB, "workload").inputs["spec"]["template"]["spec"]["containers"][0]
    assert _value_from(container) == {"MODEL_API_KEY": KEY_REF}


def test_the_simulator_gets_no_api_key_and_its_clients_still_send_one(simulator_program):
    # llm-d-inference-sim's HTTP server (pkg/llm-d-inference-sim/http.go) checks no Authorization header.
    assert "env" not in _server_container(simulator_program)
    deployment = simulator_program.one(DEPLOYMENT, "llama-stack")
    [container] = deployment.inputs["spec"]["template"]["spec"]["containers"]
    assert _value_from(container) == {"VLLM_API_TOKEN": KEY_REF}
