"""The stack's settings: declared in Pulumi.yaml, read once, validated, frozen.

Pulumi.yaml's ``config:`` block is the single declaration of every setting (type, default, description).
This module reads the values (from the Pulumi engine, or from the YAML files for tools that run
outside it), checks them all before any resource is declared, and hands the program frozen
dataclasses. Components never see ``pulumi.Config``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pulumi
import yaml

from stack import catalogue, versions
from stack.catalogue import InstanceType

PROJECT = "llm-observability"
PROJECT_DIR = Path(__file__).resolve().parent.parent
MIN_ROOT_VOLUME_GIB = 150
KUBE_API_PORT = 8443
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
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
    ("ibm-granite/granite-3", "granite"),
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
# The simulator needs no GPU; two replicas still show per-pod spread on the dashboards.
SIMULATOR_REPLICAS = 2
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")
_TAG = re.compile(r"^([\w.:/+\-@ ]{1,128})=([\w.:/+\-@= ]{0,256})$")


class ConfigError(pulumi.RunError):
    """Bad settings, reported all at once and before any resource exists."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class HostConfig:
    instance: InstanceType
    root_volume_gib: int
    allowed_cidrs: tuple[str, ...]
    ami_id: str | None
    subnet_id: str | None
    ssh_user: str


@dataclass(frozen=True)
class ClusterConfig:
    kubernetes_version: str
    minikube_version: str
    api_port: int


@dataclass(frozen=True)
class CostConfig:
    """The money side, shared by the cost signals and the AWS-side cost guards."""

    usd_per_hour: float
    gpu_count: int
    monthly_budget_usd: float | None


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
    hf_token: pulumi.Input[str] | None
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


@dataclass(frozen=True)
class StackConfig:
    stack: str
    host: HostConfig
    cluster: ClusterConfig
    cost: CostConfig
    tags: Mapping[str, str]
    workload: WorkloadConfig


# --- Reading -----------------------------------------------------------------------------------------


def declared_settings() -> dict[str, dict[str, Any]]:
    """The ``config:`` block of Pulumi.yaml: the one place settings and their defaults are written."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    return project["config"]


def raw_from_pulumi() -> dict[str, Any]:
    """Values as the Pulumi engine hands them to the program (defaults already applied by the CLI)."""
    config = pulumi.Config()
    getters = {
        "string": config.get,
        "integer": config.get_int,
        "boolean": config.get_bool,
        "array": config.get_object,
    }
    raw: dict[str, Any] = {}
    for key, declaration in declared_settings().items():
        if declaration.get("secret"):
            raw[key] = config.get_secret(key)
        else:
            raw[key] = getters[declaration["type"]](key)
    return raw


def raw_from_files(stack: str) -> dict[str, Any]:
    """Values read from Pulumi.yaml defaults and Pulumi.<stack>.yaml, the way the CLI combines them.

    For tools that run without the engine (rendering dashboards, the test harness). Encrypted secrets
    in the stack file stay encrypted here, so nothing that needs one may be read this way.
    """
    raw = {key: d.get("default") for key, d in declared_settings().items()}
    stack_file = PROJECT_DIR / f"Pulumi.{stack}.yaml"
    values = (yaml.safe_load(stack_file.read_text()) or {}).get("config", {})
    prefix = f"{PROJECT}:"
    for key, value in values.items():
        if key.startswith(prefix):
            raw[key[len(prefix):]] = value
    return raw


# --- Validation --------------------------------------------------------------------------------------


def _key(name: str) -> str:
    return f"{PROJECT}:{name}"


def _allowed_cidrs(raw: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    cidrs = raw.get("allowedCidrs")
    if not cidrs or not isinstance(cidrs, list):
        problems.append(
            f"{_key('allowedCidrs')} is required: a list of CIDRs that may reach SSH and the "
            "Kubernetes API, for example ['198.51.100.7/32'] (scripts/deploy.sh offers your address)"
        )
        return ()
    allow_world = bool(raw.get("allowWorldIngress"))
    valid = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError as error:
            problems.append(
                f"{_key('allowedCidrs')}: {cidr!r} is not a valid CIDR ({error}); "
                "allowed: IPv4 or IPv6 networks like 198.51.100.7/32 or 2001:db8::/64"
            )
            continue
        if str(network) in WORLD_CIDRS and not allow_world:
            problems.append(
                f"{_key('allowedCidrs')}: {cidr!r} opens SSH and the Kubernetes API to the whole "
                "internet; allowed: narrower networks, or set "
                f"{_key('allowWorldIngress')}=true to accept it deliberately"
            )
            continue
        valid.append(str(network))
    return tuple(valid)


def _instance(raw: Mapping[str, Any], problems: list[str]) -> InstanceType | None:
    """GPU types always; CPU types only when model serving is the simulator (the no-GPU mode)."""
    name = raw.get("instanceType")
    instance = catalogue.lookup(str(name))
    simulated = raw.get("servingMode") == SIMULATOR
    if instance is None:
        allowed = ", ".join(catalogue.GPU_INSTANCE_TYPES)
        if simulated:
            allowed += ", or with servingMode=simulator: " + ", ".join(catalogue.CPU_INSTANCE_TYPES)
        problems.append(
            f"{_key('instanceType')}: {name!r} is not a supported NVIDIA GPU instance type; allowed: {allowed}"
        )
    elif not instance.has_gpus and not simulated:
        problems.append(
            f"{_key('instanceType')}: {name!r} has no GPU, which {_key('servingMode')}="
            f"{raw.get('servingMode')!r} needs; allowed: an NVIDIA GPU type "
            f"({', '.join(catalogue.GPU_INSTANCE_TYPES)}), or set {_key('servingMode')}=simulator "
            "to run llm-d's vLLM simulator on a CPU type"
        )
    return instance


def _root_volume(raw: Mapping[str, Any], problems: list[str]) -> int:
    size = raw.get("rootVolumeGiB")
    if not isinstance(size, int) or isinstance(size, bool) or size < MIN_ROOT_VOLUME_GIB:
        problems.append(
            f"{_key('rootVolumeGiB')}: {size!r} is too small; allowed: a whole number of GiB, at "
            f"least {MIN_ROOT_VOLUME_GIB} (the AMI, images, model weights, metrics and traces)"
        )
        return MIN_ROOT_VOLUME_GIB
    return size


def _version(raw: Mapping[str, Any], key: str, pinned: str, problems: list[str]) -> str:
    value = raw.get(key) or pinned
    if not _VERSION.match(str(value)):
        problems.append(
            f"{_key(key)}: {value!r} is not a release version; allowed: vMAJOR.MINOR.PATCH like {pinned}"
        )
    return str(value)


def _optional_id(raw: Mapping[str, Any], key: str, prefix: str, problems: list[str]) -> str | None:
    value = raw.get(key) or None
    if value is not None and not re.match(rf"^{prefix}-[0-9a-f]{{8,17}}$", str(value)):
        problems.append(f"{_key(key)}: {value!r} is not an id; allowed: {prefix}-<hex> or empty")
    return value


def _decimal(raw: Mapping[str, Any], key: str, problems: list[str]) -> float | None:
    """Optional positive decimal, written as a string because Pulumi config has no float type."""
    value = raw.get(key)
    if value in (None, ""):
        return None
    try:
        number = float(str(value))
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        problems.append(f"{_key(key)}: {value!r} is not a positive amount; allowed: a decimal string like \"12.5\" or empty")
        return None
    return number


def _tags(stack: str, raw: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    tags = {"Project": PROJECT, "Stack": stack, "ManagedBy": "pulumi"}
    for entry in raw.get("tags") or []:
        match = _TAG.match(str(entry))
        if not match or match.group(1).startswith("aws:"):
            problems.append(
                f"{_key('tags')}: {entry!r} is not a tag; allowed: key=value strings, keys not starting with aws:"
            )
            continue
        tags[match.group(1)] = match.group(2)
    return tags


def _integer(raw: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{_key(key)}: {value!r} is out of range; allowed: a whole number from {low} to {high}")
        return low
    return value


def _fraction(raw: Mapping[str, Any], key: str, low: float, high: float, problems: list[str]) -> float:
    value = raw.get(key)
    try:
        number = float(str(value))
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        problems.append(f"{_key(key)}: {value!r} is out of range; allowed: a decimal string from {low} to {high}")
        return high
    return number


def _tool_call_parser(model_id: str, raw: Mapping[str, Any], problems: list[str]) -> str:
    explicit = str(raw.get("toolCallParser") or "")
    if explicit:
        if not re.match(r"^[a-z0-9_]+$", explicit):
            problems.append(f"{_key('toolCallParser')}: {explicit!r} is not a vLLM parser name; allowed: like hermes")
        return explicit
    for prefix, parser in TOOL_CALL_PARSERS:
        if model_id.lower().startswith(prefix):
            return parser
    problems.append(
        f"{_key('toolCallParser')}: no parser known for {_key('modelId')}={model_id!r}; allowed: set it to the "
        "vLLM --tool-call-parser for the model (hermes, llama3_json, mistral, granite, ...)"
    )
    return ""


def _workload(raw: Mapping[str, Any], instance: InstanceType | None, problems: list[str]) -> WorkloadConfig:
    mode = str(raw.get("servingMode"))
    if mode not in SERVING_MODES:
        problems.append(f"{_key('servingMode')}: {mode!r} is not a serving mode; allowed: {', '.join(SERVING_MODES)}")
    model_id = str(raw.get("modelId") or "")
    if not _MODEL_ID.match(model_id):
        problems.append(
            f"{_key('modelId')}: {model_id!r} is not a Hugging Face model id; allowed: owner/name like Qwen/Qwen2.5-7B-Instruct"
        )
    tensor_parallel = _integer(raw, "tensorParallelSize", 1, 8, problems)
    replicas = _integer(raw, "modelReplicas", 0, 16, problems)
    gpus = instance.gpu_count if instance else 0
    if mode == SIMULATOR:
        if tensor_parallel != 1:
            problems.append(
                f"{_key('tensorParallelSize')}: {tensor_parallel} splits a model across GPUs, which the simulator "
                f"({_key('servingMode')}=simulator) does not have; allowed: 1"
            )
        replicas = replicas or SIMULATOR_REPLICAS
    elif mode == VLLM and instance is not None and instance.has_gpus:
        if tensor_parallel not in (1, 2, 4, 8) or tensor_parallel > gpus:
            problems.append(
                f"{_key('tensorParallelSize')}: {tensor_parallel} does not fit {instance.name} ({gpus} GPUs); "
                f"allowed: 1, 2, 4 or 8 and at most {gpus}"
            )
        elif replicas * tensor_parallel > gpus:
            problems.append(
                f"{_key('modelReplicas')}: {replicas} replicas x {_key('tensorParallelSize')} {tensor_parallel} need "
                f"{replicas * tensor_parallel} GPUs, {instance.name} has {gpus}; allowed: 0 (one replica per "
                f"{tensor_parallel} GPU(s)) to {gpus // tensor_parallel}"
            )
        replicas = replicas or max(1, gpus // max(1, tensor_parallel))
    schedule = str(raw.get("workloadSchedule") or "")
    if schedule and not _CRON.match(schedule):
        problems.append(
            f"{_key('workloadSchedule')}: {schedule!r} is not a cron schedule; allowed: five fields like '0 * * * *', "
            "or empty for a one-off Job"
        )
    prompt_tokens = _integer(raw, "loadPromptTokens", 1, 131072, problems)
    output_tokens = _integer(raw, "loadOutputTokens", 1, 32768, problems)
    max_model_len = _integer(raw, "maxModelLen", 1024, 131072, problems)
    if prompt_tokens + output_tokens > max_model_len:
        problems.append(
            f"{_key('loadPromptTokens')} + {_key('loadOutputTokens')} = {prompt_tokens + output_tokens} exceed "
            f"{_key('maxModelLen')} {max_model_len}; allowed: a sum of at most {max_model_len}"
        )
    embedding_model = str(raw.get("embeddingModel") or "")
    if embedding_model not in EMBEDDING_DIMENSIONS:
        problems.append(
            f"{_key('embeddingModel')}: {embedding_model!r} is not a known CPU embedding model; allowed: "
            f"{', '.join(EMBEDDING_DIMENSIONS)}"
        )
    workload_job = bool(raw.get("workloadJob"))
    if schedule and not workload_job:
        problems.append(
            f"{_key('workloadSchedule')}: {schedule!r} is set but {_key('workloadJob')} is false; allowed: "
            f"set {_key('workloadJob')}=true too, or leave the schedule empty"
        )
    return WorkloadConfig(
        serving_mode=mode,
        model_id=model_id,
        replicas=replicas,
        tensor_parallel_size=tensor_parallel,
        max_model_len=max_model_len,
        gpu_memory_utilization=_fraction(raw, "gpuMemoryUtilization", 0.5, 0.95, problems),
        tool_call_parser=_tool_call_parser(model_id, raw, problems),
        model_cache_gib=_integer(raw, "modelCacheGiB", 10, 2000, problems),
        hf_token=pulumi.Output.secret(raw["hfToken"]) if raw.get("hfToken") else None,
        router=bool(raw.get("router")),
        trace_content=bool(raw.get("traceContent")),
        safety_shield=bool(raw.get("safetyShield")),
        embedding_model=embedding_model,
        embedding_dimension=EMBEDDING_DIMENSIONS.get(embedding_model, 0),
        workload_job=workload_job,
        workload_schedule=schedule,
        load=LoadConfig(
            request_rate=_fraction(raw, "loadRequestRate", 0.01, 1000.0, problems),
            requests=_integer(raw, "loadRequests", 1, 100000, problems),
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            concurrency=_integer(raw, "loadConcurrency", 1, 1024, problems),
        ),
    )


def parse(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate every setting and return the frozen config, or raise one error listing every problem."""
    problems: list[str] = []
    allowed_cidrs = _allowed_cidrs(raw, problems)
    instance = _instance(raw, problems)
    root_volume = _root_volume(raw, problems)
    ami_id = _optional_id(raw, "amiId", "ami", problems)
    subnet_id = _optional_id(raw, "subnetId", "subnet", problems)
    kubernetes_version = _version(raw, "kubernetesVersion", versions.KUBERNETES, problems)
    minikube_version = _version(raw, "minikubeVersion", versions.MINIKUBE, problems)
    ssh_user = str(raw.get("sshUser") or "")
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", ssh_user):
        problems.append(f"{_key('sshUser')}: {ssh_user!r} is not a Linux user name; allowed: like ubuntu")
    tags = _tags(stack, raw, problems)
    hourly_price = _decimal(raw, "hourlyPriceUsd", problems)
    monthly_budget = _decimal(raw, "monthlyBudgetUsd", problems)
    workload = _workload(raw, instance, problems)
    if problems:
        raise ConfigError(problems)
    assert instance is not None
    return StackConfig(
        stack=stack,
        host=HostConfig(
            instance=instance,
            root_volume_gib=root_volume,
            allowed_cidrs=allowed_cidrs,
            ami_id=ami_id,
            subnet_id=subnet_id,
            ssh_user=ssh_user,
        ),
        cluster=ClusterConfig(
            kubernetes_version=kubernetes_version,
            minikube_version=minikube_version,
            api_port=KUBE_API_PORT,
        ),
        cost=CostConfig(
            usd_per_hour=hourly_price or instance.usd_per_hour,
            gpu_count=instance.gpu_count,
            monthly_budget_usd=monthly_budget,
        ),
        tags=tags,
        workload=workload,
    )


def load() -> StackConfig:
    """The program's entry: the engine's values for the current stack, validated."""
    return parse(pulumi.get_stack(), raw_from_pulumi())


def load_from_files(stack: str) -> StackConfig:
    return parse(stack, raw_from_files(stack))

