"""Model serving (vLLM or its simulator), Llama Stack and the workload that exercises them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from components.minikube_cluster import node_size
from components.model_serving import VLLM_POD_MEMORY_GIB, VLLM_POD_VCPU
from stack.catalogue import InstanceType
from stack.config.common import Problems, Secret, boolean, fraction, integer, qualified, secret, shown

VLLM = "vllm"
SIMULATOR = "simulator"
SERVING_MODES = (VLLM, SIMULATOR)
# vLLM's tool-call parser per model family (vLLM docs, "Tool calling"): the first prefix that matches wins.
TOOL_CALL_PARSERS = (
    ("qwen/qwen3-coder", "qwen3_coder"),
    ("qwen/", "hermes"),
    ("meta-llama/llama-3", "llama3_json"),
    ("meta-llama/llama-4", "llama4_pythonic"),
    ("mistralai/", "mistral"),
    ("ibm-granite/", "granite"),
)
# Embedding models Llama Stack can run on CPU (sentence-transformers, no remote code), with their vector size.
EMBEDDING_DIMENSIONS = {
    "sentence-transformers/all-MiniLM-L6-v2": 384,
    "sentence-transformers/all-mpnet-base-v2": 768,
    "BAAI/bge-small-en-v1.5": 384,
    "BAAI/bge-base-en-v1.5": 768,
    "ibm-granite/granite-embedding-125m-english": 768,
}
# What a GPU node holds beside the model servers (requests in vCPU and GiB, rounded up). MiniKube's one
# node: the platform (1.37 vCPU, 4.36 GiB: `python -m tests.footprint`), Llama Stack (1, 2), the
# weight prefetch Job (1, 2) and MiniKube's control plane (about 1, 1). An EKS GPU node: the
# DaemonSets and the prefetch Job.
GPU_NODE_OVERHEAD = {"minikube": (4.5, 10), "eks": (1.5, 4)}
# The simulator needs no GPU; two replicas still show per-pod spread on the dashboards.
SIMULATOR_REPLICAS = 2
_MODEL_ID = re.compile(r"[A-Za-z0-9][\w.\-]*/[\w.\-]+", re.ASCII)
# Kubernetes parses a CronJob's schedule with robfig/cron v3's standard parser: five fields, or a descriptor.
CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_MONTHS = {name: i + 1 for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {name: i for i, name in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_CRON_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS), (0, 6, _DAYS))


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int]) -> int | None:
    number = names.get(text.upper()) if text.isalpha() else int(text) if re.fullmatch(r"[0-9]+", text, re.ASCII) else None
    return number if number is not None and low <= number <= high else None


def _cron_field(text: str, low: int, high: int, names: Mapping[str, int]) -> bool:
    for part in text.split(","):
        span, slash, step = part.partition("/")
        if slash and not (re.fullmatch(r"[0-9]+", step, re.ASCII) and int(step) > 0):
            return False
        if span in ("*", "?"):
            continue
        start, dash, end = span.partition("-")
        first = _cron_value(start, low, high, names)
        last = _cron_value(end, low, high, names) if dash else first
        if first is None or last is None or first > last:
            return False
    return True


def is_cron_schedule(schedule: str) -> bool:
    if schedule in CRON_DESCRIPTORS:
        return True
    fields = schedule.split()
    return len(fields) == 5 and all(_cron_field(f, *spec) for f, spec in zip(fields, _CRON_FIELDS, strict=True))


@dataclass(frozen=True)
class LoadConfig:
    """The load phase of the workload: an open-loop stream of chat completions against the model server."""

    request_rate: float
    requests: int
    prompt_tokens: int
    output_tokens: int
    concurrency: int


@dataclass(frozen=True)
class WorkloadConfig:
    """Model serving (vLLM or its simulator), Llama Stack and the workload that exercises them."""

    serving_mode: str
    model_id: str
    replicas: int
    tensor_parallel_size: int
    max_model_len: int
    gpu_memory_utilization: float
    tool_call_parser: str
    model_cache_gib: int
    hf_token: Secret | None
    router: bool
    trace_content: bool
    safety_shield: bool
    embedding_model: str
    embedding_dimension: int
    workload_job: bool
    workload_schedule: str
    load: LoadConfig

    @property
    def simulated(self) -> bool:
        return self.serving_mode == SIMULATOR


def _tool_call_parser(model_id: str, raw: Mapping[str, Any], problems: Problems) -> str:
    explicit = str(raw.get("toolCallParser") or "")
    if explicit:
        if not re.fullmatch(r"[a-z0-9_]+", explicit, re.ASCII):
            problems.append(f"{qualified('toolCallParser')}: {shown(explicit)} is not a vLLM parser name; allowed: like hermes")
        return explicit
    if problems.refused("modelId"):
        return ""
    for prefix, parser in TOOL_CALL_PARSERS:
        if model_id.lower().startswith(prefix):
            return parser
    problems.append(
        f"{qualified('toolCallParser')}: no parser known for {qualified('modelId')}={shown(model_id)}; allowed: set it to the "
        "vLLM --tool-call-parser for the model (hermes, llama3_json, mistral, granite, ...)"
    )
    return ""


def _serving_fits(
    backend: str, instance: InstanceType, replicas: int, tensor_parallel: int, problems: list[str]
) -> None:
    """The model server pods a GPU node may get must fit it beside the rest; an existing cluster's
    nodes are not known, so only the backends that create them are checked."""
    if backend not in GPU_NODE_OVERHEAD:
        return
    if backend == "minikube":
        cpus, memory_mib = node_size(instance.vcpu, instance.memory_gib)
        vcpu, memory_gib, where = cpus, memory_mib // 1024, "the MiniKube node"
        pods = replicas
    else:
        vcpu, memory_gib, where = instance.vcpu, instance.memory_gib, "one GPU node"
        pods = min(replicas, instance.gpu_count // tensor_parallel)
    extra_cpu, extra_gib = GPU_NODE_OVERHEAD[backend]
    need_cpu = pods * VLLM_POD_VCPU + extra_cpu
    need_gib = pods * VLLM_POD_MEMORY_GIB + extra_gib
    if need_cpu > vcpu or need_gib > memory_gib:
        problems.append(
            f"{qualified('instanceType')}: {instance.name} gives {where} {vcpu} vCPU and {memory_gib} GiB, but "
            f"{pods} model server pod(s) of {VLLM_POD_VCPU} vCPU and {VLLM_POD_MEMORY_GIB} GiB beside the rest "
            f"of the stack need {need_cpu:g} vCPU and {need_gib:g} GiB; allowed: a larger {qualified('instanceType')}"
            + (f", or fewer {qualified('modelReplicas')}" if pods > 1 else "")
        )


def parse(
    raw: Mapping[str, Any], instance: InstanceType | None, gpu_nodes: int, backend: str, problems: Problems
) -> WorkloadConfig:
    mode = str(raw.get("servingMode"))
    if mode not in SERVING_MODES:
        problems.append(f"{qualified('servingMode')}: {shown(mode)} is not a serving mode; allowed: {', '.join(SERVING_MODES)}")
    model_id = str(raw.get("modelId") or "")
    if not _MODEL_ID.fullmatch(model_id):
        problems.append(
            f"{qualified('modelId')}: {shown(model_id)} is not a Hugging Face model id; allowed: owner/name like Qwen/Qwen2.5-7B-Instruct"
        )
    tensor_parallel = integer(raw, "tensorParallelSize", 1, 8, problems)
    replicas = integer(raw, "modelReplicas", 0, 16, problems)
    # Every GPU of every GPU node: replicas spread over the nodes, one per tensorParallelSize GPUs.
    gpus = instance.gpu_count * gpu_nodes if instance else 0
    if mode == SIMULATOR:
        if tensor_parallel != 1:
            problems.append(
                f"{qualified('tensorParallelSize')}: {tensor_parallel} splits a model across GPUs, which the simulator "
                f"({qualified('servingMode')}=simulator) does not have; allowed: 1"
            )
        replicas = replicas or SIMULATOR_REPLICAS
    elif mode == VLLM and instance is not None and instance.has_gpus and not problems.refused("tensorParallelSize"):
        # A pod's GPUs are on one node; the replicas share every node's GPUs.
        per_node = instance.gpu_count
        if tensor_parallel not in (1, 2, 4, 8) or tensor_parallel > per_node:
            problems.append(
                f"{qualified('tensorParallelSize')}: {tensor_parallel} does not fit {instance.name} ({per_node} GPUs); "
                f"allowed: 1, 2, 4 or 8 and at most {per_node}"
            )
        elif replicas * tensor_parallel > gpus and not problems.refused("modelReplicas", "gpuNodes"):
            problems.append(
                f"{qualified('modelReplicas')}: {replicas} replicas x {qualified('tensorParallelSize')} {tensor_parallel} need "
                f"{replicas * tensor_parallel} GPUs, the cluster has {gpus}; allowed: 0 (one replica per "
                f"{tensor_parallel} GPU(s)) to {gpus // tensor_parallel}"
            )
        replicas = replicas or max(1, (per_node // max(1, tensor_parallel)) * gpu_nodes)
        if tensor_parallel in (1, 2, 4, 8) and tensor_parallel <= per_node:
            if not problems.refused("gpuNodes", "modelReplicas"):
                _serving_fits(backend, instance, replicas, tensor_parallel, problems)
    schedule = str(raw.get("workloadSchedule") or "")
    if schedule and not is_cron_schedule(schedule):
        problems.append(
            f"{qualified('workloadSchedule')}: {shown(schedule)} is not a cron schedule; allowed: five fields separated "
            "by spaces (minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, weekday 0-6 or SUN-SAT) "
            f"like '0 */6 * * *', one of {', '.join(CRON_DESCRIPTORS)}, or empty for a one-off Job"
        )
    prompt_tokens = integer(raw, "loadPromptTokens", 1, 131072, problems)
    output_tokens = integer(raw, "loadOutputTokens", 1, 32768, problems)
    max_model_len = integer(raw, "maxModelLen", 1024, 131072, problems)
    if prompt_tokens + output_tokens > max_model_len and not problems.refused(
        "loadPromptTokens", "loadOutputTokens", "maxModelLen"
    ):
        problems.append(
            f"{qualified('loadPromptTokens')} + {qualified('loadOutputTokens')} = {prompt_tokens + output_tokens} exceed "
            f"{qualified('maxModelLen')} {max_model_len}; allowed: a sum of at most {max_model_len}"
        )
    embedding_model = str(raw.get("embeddingModel") or "")
    if embedding_model not in EMBEDDING_DIMENSIONS:
        problems.append(
            f"{qualified('embeddingModel')}: {shown(embedding_model)} is not a known CPU embedding model; allowed: "
            f"{', '.join(EMBEDDING_DIMENSIONS)}"
        )
    workload_job = boolean(raw, "workloadJob", problems)
    if schedule and not workload_job and not problems.refused("workloadJob", "workloadSchedule"):
        problems.append(
            f"{qualified('workloadSchedule')}: {shown(schedule)} is set but {qualified('workloadJob')} is false; allowed: "
            f"set {qualified('workloadJob')}=true too, or leave the schedule empty"
        )
    return WorkloadConfig(
        serving_mode=mode,
        model_id=model_id,
        replicas=replicas,
        tensor_parallel_size=tensor_parallel,
        max_model_len=max_model_len,
        gpu_memory_utilization=fraction(raw, "gpuMemoryUtilization", 0.5, 0.95, problems),
        tool_call_parser=_tool_call_parser(model_id, raw, problems),
        model_cache_gib=integer(raw, "modelCacheGiB", 10, 2000, problems),
        hf_token=secret(raw, "hfToken"),
        router=boolean(raw, "router", problems),
        trace_content=boolean(raw, "traceContent", problems),
        safety_shield=boolean(raw, "safetyShield", problems),
        embedding_model=embedding_model,
        embedding_dimension=EMBEDDING_DIMENSIONS.get(embedding_model, 0),
        workload_job=workload_job,
        workload_schedule=schedule,
        load=LoadConfig(
            request_rate=fraction(raw, "loadRequestRate", 0.01, 1000.0, problems),
            requests=integer(raw, "loadRequests", 1, 100000, problems),
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            concurrency=integer(raw, "loadConcurrency", 1, 1024, problems),
        ),
    )
