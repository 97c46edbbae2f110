"""Model serving: vLLM (or llm-d's vLLM simulator) through llm-d's model-server chart, scraped and traced.

The slow parts of a first start are the vLLM image (~10 GB) and the weights (~15 GB for a 7B model). A
prefetch Job pulls the image and downloads the weights into the shared cache volume as soon as the
cluster exists, in parallel with the observability platform; the model servers mount the same volume,
so they start from a warm cache and a restarted pod never downloads again. Nothing here waits for
Prometheus, Grafana or the collector: only the scrape object needs the prometheus-operator CRDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.children import child_options
from components.helm import chart_source
from components.pod_security import HARDENED_CONTAINER, NO_API_TOKEN
from stack.versions import HelmChart, Image

# The model servers listen here (no routing sidecar: no prefill/decode split on one node).
SERVING_PORT = 8000
CACHE_MOUNT = "/model-cache"
# pvc+hf:// puts the Hugging Face hub cache at <mount>/<path>; the chart hard-codes /model-cache.
HUB_CACHE_PATH = "hub"
CACHE_CLAIM = "model-cache"
HF_SECRET = "hf-token"
# The key every client of the model servers sends as ``Authorization: Bearer``. vLLM 0.33 reads it from
# VLLM_API_KEY when no --api-key is given (vllm/envs.py; entrypoints/serve/middleware/register.py), and then
# refuses every path under /v1 without it while /health and /metrics stay open for probes and Prometheus.
API_KEY_SECRET = "vllm-api-key"
API_KEY_ENV = "VLLM_API_KEY"
SERVER_NAME = "vllm"
# The ClusterIP Service in front of them. Not "vllm": Kubernetes would put its service-link variables
# (VLLM_PORT=tcp://...) into every pod of the namespace, and vLLM reads VLLM_PORT as an integer.
SERVICE_NAME = "model-server"
# The labels the chart puts on every model server pod (plus llm-d.ai/role: decode), and so the
# selector of the Service and the PodMonitor.
POD_LABELS = {"app.kubernetes.io/name": SERVER_NAME, "llm-d.ai/inference-serving": "true"}
SCRAPE_JOB = "vllm"
# The Job that fills the weight cache ahead of the model servers.
PREFETCH_LABELS = {"app.kubernetes.io/name": "model-prefetch"}
# What each vLLM pod requests beside its GPUs (weights are staged through host memory while loading);
# stack/config/workloads.py refuses instance types whose nodes cannot hold the pods.
VLLM_POD_VCPU = 4
VLLM_POD_MEMORY_GIB = 24
# What llm-d-inference-sim (v0.10.2, pkg/llm-d-inference-sim/metrics.go) exposes, by vLLM 0.33 family name
# after metric_relabelings(): every other vLLM family is absent in the no-GPU mode.
SIMULATOR_METRIC_FAMILIES = (
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:cache_config_info",
    "vllm:lora_requests_info",
    "vllm:prefix_cache_hits",
    "vllm:prefix_cache_queries",
    "vllm:prompt_tokens",
    "vllm:generation_tokens",
    "vllm:request_success",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
    "vllm:request_max_num_generation_tokens",
    "vllm:request_params_max_tokens",
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_inference_time_seconds",
    "vllm:request_prefill_time_seconds",
    "vllm:request_decode_time_seconds",
)


@dataclass(frozen=True)
class ModelServingArgs:
    namespace: str
    simulated: bool
    model_id: str
    replicas: int
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    tool_call_parser: str
    cache_gib: int
    hf_token: pulumi.Input[str] | None
    vllm_image: Image
    simulator_image: Image
    chart: HelmChart
    # gRPC OTLP endpoint of the collector (vLLM's --otlp-traces-endpoint).
    otlp_traces_endpoint: str
    # What must exist before a PodMonitor can be created (the prometheus-operator CRDs).
    monitoring_depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)
    # Where the model servers run: the GPU nodes and their taint (empty on MiniKube's one node); the
    # simulator needs no GPU and runs where the system pods do.
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[Mapping[str, str], ...] = ()
    system_node_selector: Mapping[str, str] = field(default_factory=dict)
    # None: the cluster's default storage class.
    storage_class: str | None = None
    # One weight cache for every pod needs every pod on one node (a ReadWriteOnce volume): true on
    # MiniKube; on several GPU nodes each pod downloads into its own scratch space instead.
    shared_cache: bool = True


def vllm_args(args: ModelServingArgs) -> list[str]:
    """Arguments after the ones the chart writes (model, --port, --served-model-name, tracing)."""
    return [
        "--max-model-len", str(args.max_model_len),
        "--gpu-memory-utilization", f"{args.gpu_memory_utilization:g}",
        "--enable-prefix-caching",
        "--enable-auto-tool-choice",
        "--tool-call-parser", args.tool_call_parser,
    ]


def simulator_args(args: ModelServingArgs) -> list[str]:
    """Latencies of a small model on an L4, so the dashboards show believable shapes without a GPU."""
    return [
        "--max-model-len", str(args.max_model_len),
        "--max-num-seqs", "32",
        "--time-to-first-token", "150ms",
        "--time-to-first-token-std-dev", "30ms",
        "--inter-token-latency", "25ms",
        "--inter-token-latency-std-dev", "5ms",
        # KV-cache simulation drives vllm:kv_cache_usage_perc and the prefix-cache counters.
        "--enable-kvcache",
        "--kv-cache-size", "4096",
        # A real model name would otherwise make the simulator call a vLLM render service to tokenize.
        "--force-dummy-tokenizer",
    ]


def _probes() -> dict[str, Any]:
    health = {"httpGet": {"path": "/health", "port": SERVING_PORT}}
    return {
        # Weights may still be downloading on the very first start: allow 30 minutes.
        "startupProbe": {**health, "periodSeconds": 10, "failureThreshold": 180},
        "readinessProbe": {**health, "periodSeconds": 5, "failureThreshold": 3},
        "livenessProbe": {**health, "periodSeconds": 15, "failureThreshold": 4},
    }


def api_key_env(variable: str) -> dict[str, Any]:
    """An env entry holding the model servers' API key, read from its Secret (never a value in a spec)."""
    return {"name": variable, "valueFrom": {"secretKeyRef": {"name": API_KEY_SECRET, "key": API_KEY_ENV}}}


def chart_values(args: ModelServingArgs, hf_secret: str | None) -> dict[str, Any]:
    """Values for llm-d-modelservice: decode-only Deployment, no sidecar, our own scrape object."""
    port = {"containerPort": SERVING_PORT, "name": "http", "protocol": "TCP"}
    if args.simulated:
        container: dict[str, Any] = {
            "name": SERVER_NAME,
            "image": args.simulator_image.reference,
            "modelCommand": "imageDefault",
            "args": simulator_args(args),
            "ports": [port],
            "resources": {
                "requests": {"cpu": "500m", "memory": "256Mi"},
                "limits": {"memory": "1Gi"},
            },
            "mountModelVolume": False,
            "extraConfig": _probes(),
        }
        volumes: list[dict[str, Any]] = []
    else:
        gpus = str(args.tensor_parallel_size)
        container = {
            "name": SERVER_NAME,
            "image": args.vllm_image.reference,
            "modelCommand": "vllmServe",
            "args": vllm_args(args),
            "ports": [port],
            "resources": {
                "requests": {"cpu": str(VLLM_POD_VCPU), "memory": f"{VLLM_POD_MEMORY_GIB}Gi", "nvidia.com/gpu": gpus},
                "limits": {"memory": f"{2 * VLLM_POD_MEMORY_GIB}Gi", "nvidia.com/gpu": gpus},
            },
            # Through the environment rather than --api-key, so the key is in no pod's command line.
            "env": [api_key_env(API_KEY_ENV)],
            "mountModelVolume": True,
            "volumeMounts": [{"name": "shm", "mountPath": "/dev/shm"}],
            "extraConfig": _probes(),
        }
        # Tensor parallel workers talk through shared memory.
        volumes = [{"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]
    values: dict[str, Any] = {
        "fullnameOverride": SERVER_NAME,
        "modelArtifacts": {
            "name": args.model_id,
            "labels": dict(POD_LABELS),
            # Simulator: the name only. vLLM: the Hugging Face cache on the shared claim, writable so a
            # pod can still fetch what the prefetch Job has not.
            "uri": f"pvc+hf://{CACHE_CLAIM}/{HUB_CACHE_PATH}/{args.model_id}"
            if uses_cache_claim(args)
            else f"hf://{args.model_id}",
            # hf://: the chart's emptyDir for the weights gets this as its sizeLimit (templates/_helpers.tpl,
            # mountModelVolumeVolumes); its 5Mi default would have the kubelet evict the pod mid-download.
            # A claim (pvc+hf://) is sized by modelCacheGiB where it is created, and the chart ignores this.
            "size": f"{args.cache_gib}Gi",
            "authSecretName": hf_secret or "",
            "mountPath": CACHE_MOUNT,
            "readOnly": False,
        },
        "accelerator": {"type": "cpu" if args.simulated else "nvidia"},
        "routing": {"servicePort": SERVING_PORT, "proxy": {"enabled": False}},
        "tracing": {
            # The simulator has no tracing flags.
            "enabled": not args.simulated,
            "otlpEndpoint": args.otlp_traces_endpoint,
            "sampling": {"sampler": "parentbased_traceidratio", "samplerArg": "1.0"},
            "serviceNames": {"vllmDecode": SERVER_NAME},
            "vllm": {"collectDetailedTraces": "all"},
        },
        "decode": {
            "create": True,
            "replicas": args.replicas,
            **placement(args),
            "parallelism": {"tensor": args.tensor_parallel_size},
            # vLLM reads VLLM_* variables; no Service's variables belong in its environment.
            "enableServiceLinks": False,
            "containers": [container],
            "volumes": volumes,
            # Our PodMonitor (below) sets job="vllm"; the chart's would wait on nothing and label nothing.
            "monitoring": {"podmonitor": {"enabled": False}},
        },
        "prefill": {"create": False, "replicas": 0},
    }
    return values


def placement(args: ModelServingArgs) -> dict[str, Any]:
    """decode.nodeSelector and decode.tolerations, set only where the cluster has node pools."""
    selector = args.system_node_selector if args.simulated else args.gpu_node_selector
    tolerations = [] if args.simulated else [dict(t) for t in args.gpu_tolerations]
    return {
        **({"nodeSelector": dict(selector)} if selector else {}),
        **({"tolerations": tolerations} if tolerations else {}),
    }


def uses_cache_claim(args: ModelServingArgs) -> bool:
    """vLLM on one node shares a persistent weight cache; the simulator needs no weights."""
    return args.shared_cache and not args.simulated


def metric_relabelings(simulated: bool) -> list[dict[str, Any]]:
    """The simulator's naming differences from vLLM 0.33, fixed at scrape time so the dashboards match.

    It is written in Go, so its prefix-cache counters lack prometheus_client's ``_total`` suffix; it
    keeps an older name for the max-generation-tokens histogram and calls vLLM's ``finished_reason``
    label ``finish_reason``; and it has no data-parallel ``engine`` label.
    """
    if not simulated:
        return []

    def rename(pattern: str, replacement: str) -> dict[str, Any]:
        return {
            "sourceLabels": ["__name__"],
            "regex": pattern,
            "targetLabel": "__name__",
            "replacement": replacement,
            "action": "replace",
        }

    return [
        rename("vllm:(prefix_cache_hits|prefix_cache_queries)", "vllm:${1}_total"),
        rename("vllm:max_num_generation_tokens_(bucket|sum|count)", "vllm:request_max_num_generation_tokens_${1}"),
        {
            "sourceLabels": ["finish_reason"],
            "regex": "(.+)",
            "targetLabel": "finished_reason",
            "replacement": "${1}",
            "action": "replace",
        },
        {"regex": "finish_reason", "action": "labeldrop"},
        {"sourceLabels": ["engine"], "regex": "", "targetLabel": "engine", "replacement": "0", "action": "replace"},
    ]


def prefetch_script(model_id: str) -> str:
    return (
        "from huggingface_hub import snapshot_download\n"
        f"path = snapshot_download({model_id!r}, allow_patterns=['*.json', '*.safetensors', '*.txt', "
        "'*.model', '*.jinja', '*.tiktoken'])\n"
        "print('weights cached in', path, flush=True)\n"
    )


class ModelServing(pulumi.ComponentResource):
    """The model servers of namespace ``llm``, their weight cache, their Service and their scrape object."""

    endpoint: str
    # What clients send as their bearer token (a Pulumi secret); in the cluster they read API_KEY_SECRET.
    api_key: pulumi.Output[str]
    # Clients of the model servers start after it exists, or their pods wait on a missing Secret.
    api_key_secret: pulumi.Resource

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:workloads:ModelServing", name, None, opts)
        child = child_options(self, opts)

        def meta(resource: str) -> dict[str, str]:
            return {"name": resource, "namespace": args.namespace}

        # What the model servers (and the prefetch Job) mount or read must exist before they start.
        api_key = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=child)
        api_key_secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata=meta(API_KEY_SECRET),
            type="Opaque",
            string_data={API_KEY_ENV: pulumi.Output.secret(api_key.result)},
            opts=child,
        )
        release_depends: list[pulumi.Resource] = [api_key_secret]
        hf_secret = None
        if args.hf_token is not None:
            release_depends.append(
                k8s.core.v1.Secret(
                    f"{name}-hf-token",
                    metadata=meta(HF_SECRET),
                    string_data={"HF_TOKEN": pulumi.Output.secret(args.hf_token)},
                    opts=child,
                )
            )
            hf_secret = HF_SECRET
        secret_env = (
            [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": HF_SECRET, "key": "HF_TOKEN"}}}]
            if hf_secret
            else []
        )

        if uses_cache_claim(args):
            cache = k8s.core.v1.PersistentVolumeClaim(
                f"{name}-model-cache",
                metadata=meta(CACHE_CLAIM),
                spec={
                    # One node: every model server pod mounts the same claim.
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": f"{args.cache_gib}Gi"}},
                    **({"storageClassName": args.storage_class} if args.storage_class else {}),
                },
                opts=child,
            )
            release_depends.append(cache)
            # Pulls the vLLM image onto the node and fills the cache while the platform comes up. The
            # model servers do not wait for it: a pod that starts first downloads the same files under
            # huggingface_hub's file locks, so the work is never done twice.
            k8s.batch.v1.Job(
                f"{name}-prefetch",
                metadata={"namespace": args.namespace, "labels": dict(PREFETCH_LABELS)},
                spec={
                    "backoffLimit": 4,
                    "template": {
                        "metadata": {"labels": dict(PREFETCH_LABELS)},
                        "spec": {
                            "restartPolicy": "OnFailure",
                            # The vLLM image reads VLLM_* variables; keep other Services' out.
                            "enableServiceLinks": False,
                            **NO_API_TOKEN,
                            # On the model servers' node: the image pull lands where they start, and a
                            # zonal volume (EBS) is bound in the zone of the node that can use it.
                            **placement(args),
                            "containers": [
                                {
                                    "name": "prefetch",
                                    "image": args.vllm_image.reference,
                                    "securityContext": HARDENED_CONTAINER,
                                    "command": ["python3", "-c", prefetch_script(args.model_id)],
                                    "env": [
                                        {"name": "HF_HUB_CACHE", "value": f"{CACHE_MOUNT}/{HUB_CACHE_PATH}"},
                                        *secret_env,
                                    ],
                                    "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
                                    "volumeMounts": [{"name": "cache", "mountPath": CACHE_MOUNT}],
                                }
                            ],
                            "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": CACHE_CLAIM}}],
                        },
                    },
                },
                # Image and weights on a slow link can take longer than the default ten minutes.
                opts=child_options(
                    self, opts, depends_on=release_depends, custom_timeouts=pulumi.CustomTimeouts(create="30m")
                ),
            )

        k8s.helm.v3.Release(
            f"{name}-modelservice",
            name=SERVER_NAME,
            namespace=args.namespace,
            **chart_source(args.chart),
            values=chart_values(args, hf_secret),
            # Loading a model takes minutes; readiness shows on the dashboards, not as a blocked `up`.
            skip_await=True,
            opts=child_options(self, opts, depends_on=release_depends),
        )

        selector = {**POD_LABELS, "llm-d.ai/role": "decode"}
        k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(SERVICE_NAME),
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": SERVING_PORT, "targetPort": "http"}],
            },
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-podmonitor",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=meta(SERVER_NAME),
            spec={
                "selector": {"matchLabels": selector},
                "podMetricsEndpoints": [
                    {
                        "port": "http",
                        "path": "/metrics",
                        "interval": "15s",
                        "relabelings": [{"targetLabel": "job", "replacement": SCRAPE_JOB, "action": "replace"}],
                        "metricRelabelings": metric_relabelings(args.simulated),
                    }
                ],
            },
            opts=child_options(self, opts, depends_on=args.monitoring_depends_on),
        )
        self.endpoint = f"http://{SERVICE_NAME}.{args.namespace}.svc.cluster.local:{SERVING_PORT}/v1"
        self.api_key = pulumi.Output.secret(api_key.result)
        self.api_key_secret = api_key_secret
        self.register_outputs({"endpoint": self.endpoint})
