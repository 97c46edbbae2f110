"""The stack's settings: declared in Pulumi.yaml, read once, validated, frozen.

Pulumi.yaml's ``config:`` block is the single declaration of every setting (type, default, description).
This module reads the values (from the Pulumi engine, or from the YAML files for tools that run
outside it), checks them all before any resource is declared, and hands the program frozen
dataclasses. Components never see ``pulumi.Config``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pulumi
import yaml

from components.minikube_cluster import node_size
from components.model_serving import VLLM_POD_MEMORY_GIB, VLLM_POD_VCPU
from stack import catalogue, versions
from stack.catalogue import InstanceType

PROJECT = "llm-observability"
PROJECT_DIR = Path(__file__).resolve().parent.parent
MIN_ROOT_VOLUME_GIB = 150
# The data volume: room for the model weights at least; gp3's largest size; DLM's longest daily count.
MIN_DATA_VOLUME_GIB = 50
MAX_DATA_VOLUME_GIB = 16384
MAX_SNAPSHOT_DAYS = 365
KUBE_API_PORT = 8443
BACKENDS = ("minikube", "eks", "kubeconfig")
# The storage class each backend offers when storageClass is empty (None: the cluster's default).
DEFAULT_STORAGE_CLASS = {"minikube": "standard", "eks": "gp3", "kubeconfig": None}
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
IDLE_PERIOD_MINUTES = 5  # EC2 basic monitoring publishes CPUUtilization every 5 minutes.
MIN_IDLE_STOP_MINUTES = 15
MAX_IDLE_STOP_MINUTES = 1440  # CloudWatch evaluates at most one day of periods.
MAX_BUDGET_SUBSCRIBERS = 10  # AWS Budgets' limit of e-mail subscribers per notification.
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
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
_CRON = re.compile(r"^(\S+\s+){4}\S+$")
_TAG = re.compile(r"^([\w.:/+\-@ ]{1,128})=([\w.:/+\-@= ]{0,256})$")


@dataclass(frozen=True)
class Secret:
    """A secret setting: never shown by repr or in errors; components hand it to Pulumi as a secret."""

    value: str = field(repr=False)

    def output(self) -> pulumi.Output[str]:
        return pulumi.Output.secret(self.value)


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
    # The data volume (an EBS volume of its own that outlives any host), how it is kept and snapshotted.
    data_volume_gib: int
    keep_data: bool
    snapshot_days: int


@dataclass(frozen=True)
class ClusterConfig:
    """Where Kubernetes comes from: MiniKube on the GPU host, a new EKS cluster, or an existing cluster.

    Pulumi's project config has no object type, so the settings are flat keys (clusterBackend, gpuNodes,
    eks*, kubeconfig) gathered here into one object.
    """

    backend: str
    gpu_nodes: int
    storage_class: str | None
    kubernetes_version: str
    minikube_version: str
    api_port: int
    eks_kubernetes_version: str
    eks_system_instance: InstanceType
    eks_system_nodes: int
    eks_subnet_ids: tuple[str, ...]
    kubeconfig: Secret | None


@dataclass(frozen=True)
class CostConfig:
    """The money side, shared by the cost signals and the AWS-side cost guards."""

    usd_per_hour: float
    gpu_count: int
    monthly_budget_usd: float | None


ALERT_RECEIVERS = ("none", "webhook", "slack")
# Prometheus keeps the WAL and the head block beside the retained blocks: leave it a tenth of the disk.
PROMETHEUS_DISK_HEADROOM = 0.9
_PROMETHEUS_DURATION = re.compile(r"^(\d+(y|w|d|h|m|s|ms))+$")
_PROMETHEUS_SIZE = re.compile(r"^(\d+)(B|KB|MB|GB|TB|PB)$")
_GO_DURATION = re.compile(r"^(\d+(h|m|s))+$")


@dataclass(frozen=True)
class PlatformConfig:
    """Metrics, traces and alerting on the cluster (kube-prometheus-stack, Tempo, Alertmanager)."""

    prometheus_retention: str
    prometheus_retention_size: str
    prometheus_volume_gib: int
    trace_retention: str
    tempo_volume_gib: int
    alert_receiver: str
    alert_receiver_url: Secret | None


@dataclass(frozen=True)
class CostGuardsConfig:
    """What keeps the bill in check: spot capacity, stopping an idle host, a budget that e-mails."""

    spot_instances: bool
    idle_stop_minutes: int | None
    idle_cpu_percent: float
    # The idle signal of a GPU host: its busiest GPU's utilisation (the CPU one is for CPU hosts).
    idle_gpu_percent: float
    budget_alert_emails: tuple[str, ...]


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


@dataclass(frozen=True)
class ApiPrice:
    """A commercial API's list price per million tokens, to compare the self-hosted cost against."""

    name: str
    input_usd_per_million: float
    output_usd_per_million: float


@dataclass(frozen=True)
class SignalsConfig:
    """What the dashboards, recording rules and alerts are tuned by (latency targets, thresholds)."""

    ttft_target_seconds: float
    itl_target_seconds: float
    e2e_target_seconds: float
    slo_objective: float
    commercial_api_prices: tuple[ApiPrice, ...]
    gpu_idle_utilisation_percent: int
    queue_alert_requests: int


@dataclass(frozen=True)
class StackConfig:
    stack: str
    host: HostConfig
    cluster: ClusterConfig
    cost: CostConfig
    signals: SignalsConfig
    tags: Mapping[str, str]
    platform: PlatformConfig
    cost_guards: CostGuardsConfig
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
    # Secret settings are read as plain values only to be validated; parse() wraps them in Secret.
    return {key: getters[d["type"]](key) for key, d in declared_settings().items()}


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


def _boolean(raw: Mapping[str, Any], key: str, problems: list[str]) -> bool:
    value = raw.get(key)
    if not isinstance(value, bool):
        problems.append(f"{_key(key)}: {value!r} is not a boolean; allowed: true or false")
        return False
    return value


def _version(raw: Mapping[str, Any], key: str, pinned: str, problems: list[str]) -> str:
    value = raw.get(key) or pinned
    if not _VERSION.match(str(value)):
        problems.append(
            f"{_key(key)}: {value!r} is not a release version; allowed: vMAJOR.MINOR.PATCH like {pinned}"
        )
    return str(value)


def _is_id(value: object, prefix: str) -> bool:
    return bool(re.match(rf"^{prefix}-[0-9a-f]{{8,17}}$", str(value)))


def _optional_id(raw: Mapping[str, Any], key: str, prefix: str, problems: list[str]) -> str | None:
    value = raw.get(key) or None
    if value is not None and not _is_id(value, prefix):
        problems.append(f"{_key(key)}: {value!r} is not an id; allowed: {prefix}-<hex> or empty")
    return value


def _count(raw: Mapping[str, Any], key: str, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        problems.append(f"{_key(key)}: {value!r} is not a node count; allowed: a whole number, at least 1")
        return 1
    return value


def _cluster(raw: Mapping[str, Any], problems: list[str]) -> ClusterConfig:
    backend = str(raw.get("clusterBackend") or "")
    if backend not in BACKENDS:
        problems.append(f"{_key('clusterBackend')}: {backend!r} is not a backend; allowed: {', '.join(BACKENDS)}")
    gpu_nodes = _count(raw, "gpuNodes", problems)
    if backend == "minikube" and gpu_nodes != 1:
        problems.append(
            f"{_key('gpuNodes')}: {gpu_nodes} GPU nodes need clusterBackend eks or kubeconfig; "
            "allowed with minikube: 1 (one host)"
        )
    system_name = str(raw.get("eksSystemInstanceType") or "")
    system_instance = catalogue.CPU_INSTANCE_TYPES.get(system_name)
    if system_instance is None:
        problems.append(
            f"{_key('eksSystemInstanceType')}: {system_name!r} is not a supported type for the system nodes; "
            f"allowed: {', '.join(catalogue.CPU_INSTANCE_TYPES)}"
        )
    subnet_ids = tuple(str(s) for s in raw.get("eksSubnetIds") or [])
    if any(not _is_id(s, "subnet") for s in subnet_ids) or len(subnet_ids) == 1:
        problems.append(
            f"{_key('eksSubnetIds')}: {list(subnet_ids)!r} is not a subnet list; allowed: empty (the default "
            "VPC) or two or more subnet-<hex> ids in different availability zones"
        )
    eks_version = str(raw.get("eksKubernetesVersion") or versions.EKS_KUBERNETES)
    if not re.match(r"^1\.\d+$", eks_version):
        problems.append(f"{_key('eksKubernetesVersion')}: {eks_version!r} is not an EKS version; allowed: like 1.34")
    kubeconfig = raw.get("kubeconfig") or None
    if backend == "kubeconfig":
        if kubeconfig is None:
            problems.append(f"{_key('kubeconfig')} is required with clusterBackend kubeconfig: set it with --secret")
        elif not isinstance(_yaml_or_none(kubeconfig), dict) or "clusters" not in _yaml_or_none(kubeconfig):
            problems.append(f"{_key('kubeconfig')}: the value (not shown) is not a kubeconfig; allowed: a kubeconfig YAML document")
    storage_class = str(raw.get("storageClass") or "") or DEFAULT_STORAGE_CLASS.get(backend)
    return ClusterConfig(
        backend=backend,
        gpu_nodes=gpu_nodes,
        storage_class=storage_class,
        kubernetes_version=_version(raw, "kubernetesVersion", versions.KUBERNETES, problems),
        minikube_version=_version(raw, "minikubeVersion", versions.MINIKUBE, problems),
        api_port=KUBE_API_PORT,
        eks_kubernetes_version=eks_version,
        eks_system_instance=system_instance or next(iter(catalogue.CPU_INSTANCE_TYPES.values())),
        eks_system_nodes=_count(raw, "eksSystemNodes", problems),
        eks_subnet_ids=subnet_ids,
        kubeconfig=Secret(str(kubeconfig)) if kubeconfig else None,
    )


def _yaml_or_none(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _hourly_cost(cluster: ClusterConfig, instance: InstanceType) -> float:
    """List price of what the stack runs on: every GPU node, and on EKS the system nodes and control plane."""
    cost = cluster.gpu_nodes * instance.usd_per_hour
    if cluster.backend == "eks":
        cost += cluster.eks_system_nodes * cluster.eks_system_instance.usd_per_hour
        cost += catalogue.EKS_CONTROL_PLANE_USD_PER_HOUR
    return round(cost, 6)


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


# The bucket bounds vLLM 0.33 exports for its latency histograms (vllm/v1/metrics/buckets.py): an SLO
# target must be one of them, so attainment is read exactly from the `le` series.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
REQUEST_LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
                           120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0)
_API_PRICE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,62})=(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")


def _bucket_target(raw: Mapping[str, Any], key: str, buckets: tuple[float, ...], problems: list[str]) -> float:
    allowed = ", ".join(repr(b) for b in buckets)
    value = _decimal(raw, key, problems)
    if value is None:
        if raw.get(key) in (None, ""):
            problems.append(f"{_key(key)} is required; allowed: {allowed}")
        return buckets[0]
    if value not in buckets:
        problems.append(f"{_key(key)}: {raw.get(key)!r} is not a bucket bound of the vLLM histogram; allowed: {allowed}")
    return value


def _slo_objective(raw: Mapping[str, Any], problems: list[str]) -> float:
    value = _decimal(raw, "sloObjective", problems)
    if value is None or not 0.5 <= value <= 0.9999:
        problems.append(f"{_key('sloObjective')}: {raw.get('sloObjective')!r} is out of range; allowed: a decimal string from \"0.5\" to \"0.9999\"")
        return 0.99
    return value


def _api_prices(raw: Mapping[str, Any], problems: list[str]) -> tuple[ApiPrice, ...]:
    entries = raw.get("commercialApiPrices") or []
    prices: list[ApiPrice] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        match = _API_PRICE.match(str(entry))
        if not match:
            problems.append(
                f"{_key('commercialApiPrices')}: {entry!r} is not a price; allowed: name=inputUsd/outputUsd "
                "per million tokens, like gpt-4o=2.50/10.00"
            )
            continue
        prices.append(ApiPrice(match.group(1), float(match.group(2)), float(match.group(3))))
    names = [p.name for p in prices]
    if len(set(names)) != len(names):
        problems.append(f"{_key('commercialApiPrices')}: names must be unique, got {names}")
    return tuple(prices)


def _integer(raw: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{_key(key)}: {value!r} is out of range; allowed: a whole number from {low} to {high}")
        return low
    return value


def _matching(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str], allowed: str, problems: list[str]) -> str:
    value = str(raw.get(key) or "")
    if not pattern.match(value) or not any(ch in "123456789" for ch in value):
        problems.append(f"{_key(key)}: {value!r} is not valid; allowed: {allowed}")
    return value


def _prometheus_size_bytes(size: str) -> int:
    match = _PROMETHEUS_SIZE.match(size)
    assert match is not None
    units = ["B", "KB", "MB", "GB", "TB", "PB"]
    # Prometheus reads these units as powers of 1024.
    return int(match.group(1)) * 1024 ** units.index(match.group(2))


def _platform(raw: Mapping[str, Any], problems: list[str]) -> PlatformConfig:
    retention = _matching(
        raw, "prometheusRetention", _PROMETHEUS_DURATION, "a Prometheus duration like 15d, 36h or 2w", problems
    )
    volume_gib = _integer(raw, "prometheusVolumeGiB", 10, 1000, problems)
    retention_size = _matching(
        raw, "prometheusRetentionSize", _PROMETHEUS_SIZE, "a size like 40GB or 500MB (units B, KB, MB, GB, TB, PB)", problems
    )
    if _PROMETHEUS_SIZE.match(retention_size):
        budget = PROMETHEUS_DISK_HEADROOM * volume_gib * 1024**3
        if _prometheus_size_bytes(retention_size) > budget:
            problems.append(
                f"{_key('prometheusRetentionSize')}: {retention_size!r} does not fit the "
                f"{volume_gib} GiB volume; allowed: at most {int(budget // 1024**3)}GB, or raise "
                f"{_key('prometheusVolumeGiB')}"
            )
    trace_retention = _matching(
        raw, "traceRetention", _GO_DURATION, "a duration in hours, minutes or seconds like 168h or 72h30m", problems
    )
    tempo_volume_gib = _integer(raw, "tempoVolumeGiB", 5, 1000, problems)
    receiver = str(raw.get("alertReceiver") or "")
    url = raw.get("alertReceiverUrl") or None
    if receiver not in ALERT_RECEIVERS:
        problems.append(f"{_key('alertReceiver')}: {receiver!r} is not a receiver; allowed: {', '.join(ALERT_RECEIVERS)}")
    elif receiver == "none" and url is not None:
        problems.append(
            f"{_key('alertReceiverUrl')} is set but {_key('alertReceiver')} is none; allowed: set "
            f"{_key('alertReceiver')} to webhook or slack, or remove the URL"
        )
    elif receiver != "none":
        # The URL is a secret: messages say what is wrong with it, never what it is.
        if url is None:
            problems.append(
                f"{_key('alertReceiverUrl')} is required when {_key('alertReceiver')} is {receiver}; "
                f"set it with `pulumi config set --secret alertReceiverUrl <url>`"
            )
        elif not re.match(r"^https://[^\s/]+(/\S*)?$", str(url)):
            problems.append(f"{_key('alertReceiverUrl')} is not an https:// URL; allowed: an https:// webhook URL")
    return PlatformConfig(
        prometheus_retention=retention,
        prometheus_retention_size=retention_size,
        prometheus_volume_gib=volume_gib,
        trace_retention=trace_retention,
        tempo_volume_gib=tempo_volume_gib,
        alert_receiver=receiver,
        alert_receiver_url=Secret(str(url)) if url is not None else None,
    )


def _idle_percent(raw: Mapping[str, Any], key: str, minutes: object, problems: list[str]) -> float | None:
    percent = _decimal(raw, key, problems)
    if percent is not None and percent >= 100:
        problems.append(f'{_key(key)}: {raw.get(key)!r} is not below 100; allowed: a decimal string like "5"')
    if percent is None and minutes:
        problems.append(
            f'{_key(key)} is required when {_key("idleStopMinutes")} is set; allowed: a decimal string like "5"'
        )
    return percent


def _cost_guards(
    raw: Mapping[str, Any], backend: str, budget: float | None, problems: list[str]
) -> CostGuardsConfig:
    spot = raw.get("spotInstances")
    if not isinstance(spot, bool):
        problems.append(f"{_key('spotInstances')}: {spot!r} is not a boolean; allowed: true or false")
    minutes = raw.get("idleStopMinutes")
    if (
        not isinstance(minutes, int)
        or isinstance(minutes, bool)
        or (minutes != 0 and not MIN_IDLE_STOP_MINUTES <= minutes <= MAX_IDLE_STOP_MINUTES)
        or minutes % IDLE_PERIOD_MINUTES
    ):
        problems.append(
            f"{_key('idleStopMinutes')}: {minutes!r} is not allowed; allowed: 0 (off) or a multiple of "
            f"{IDLE_PERIOD_MINUTES} from {MIN_IDLE_STOP_MINUTES} to {MAX_IDLE_STOP_MINUTES}"
        )
        minutes = 0
    cpu, gpu = (_idle_percent(raw, key, minutes, problems) for key in ("idleCpuPercent", "idleGpuPercent"))
    emails_raw = raw.get("budgetAlertEmails") or []
    emails: list[str] = []
    if not isinstance(emails_raw, list):
        problems.append(f"{_key('budgetAlertEmails')}: {emails_raw!r} is not a list; allowed: e-mail addresses")
        emails_raw = []
    for email in emails_raw:
        if not _EMAIL.match(str(email)):
            problems.append(
                f"{_key('budgetAlertEmails')}: {email!r} is not an e-mail address; allowed: like team@example.org"
            )
        else:
            emails.append(str(email))
    if len(emails) > MAX_BUDGET_SUBSCRIBERS:
        problems.append(
            f"{_key('budgetAlertEmails')}: {len(emails)} addresses; "
            f"allowed: at most {MAX_BUDGET_SUBSCRIBERS} (AWS Budgets' limit)"
        )
    if emails and budget is None:
        # Without a budget there is nothing to send: the addresses would be silently ignored.
        problems.append(
            f"{_key('budgetAlertEmails')} is set but {_key('monthlyBudgetUsd')} is empty, so no budget would "
            f"ever mail them; allowed: set {_key('monthlyBudgetUsd')} too, or leave the list empty"
        )
    # Spot capacity and the idle stop act on the one GPU host: other backends leave them aside (a stack
    # file keeps working when its backend is switched); the budget covers every backend.
    host = backend == "minikube"
    return CostGuardsConfig(
        spot_instances=host and spot is True,
        idle_stop_minutes=(minutes or None) if host else None,
        idle_cpu_percent=cpu or 0.0,
        idle_gpu_percent=gpu or 0.0,
        budget_alert_emails=tuple(emails),
    )


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
            f"{_key('instanceType')}: {instance.name} gives {where} {vcpu} vCPU and {memory_gib} GiB, but "
            f"{pods} model server pod(s) of {VLLM_POD_VCPU} vCPU and {VLLM_POD_MEMORY_GIB} GiB beside the rest "
            f"of the stack need {need_cpu:g} vCPU and {need_gib:g} GiB; allowed: a larger {_key('instanceType')}"
            + (f", or fewer {_key('modelReplicas')}" if pods > 1 else "")
        )


def _workload(
    raw: Mapping[str, Any], instance: InstanceType | None, gpu_nodes: int, backend: str, problems: list[str]
) -> WorkloadConfig:
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
    # Every GPU of every GPU node: replicas spread over the nodes, one per tensorParallelSize GPUs.
    gpus = instance.gpu_count * gpu_nodes if instance else 0
    if mode == SIMULATOR:
        if tensor_parallel != 1:
            problems.append(
                f"{_key('tensorParallelSize')}: {tensor_parallel} splits a model across GPUs, which the simulator "
                f"({_key('servingMode')}=simulator) does not have; allowed: 1"
            )
        replicas = replicas or SIMULATOR_REPLICAS
    elif mode == VLLM and instance is not None and instance.has_gpus:
        # A pod's GPUs are on one node; the replicas share every node's GPUs.
        per_node = instance.gpu_count
        if tensor_parallel not in (1, 2, 4, 8) or tensor_parallel > per_node:
            problems.append(
                f"{_key('tensorParallelSize')}: {tensor_parallel} does not fit {instance.name} ({per_node} GPUs); "
                f"allowed: 1, 2, 4 or 8 and at most {per_node}"
            )
        elif replicas * tensor_parallel > gpus:
            problems.append(
                f"{_key('modelReplicas')}: {replicas} replicas x {_key('tensorParallelSize')} {tensor_parallel} need "
                f"{replicas * tensor_parallel} GPUs, the cluster has {gpus}; allowed: 0 (one replica per "
                f"{tensor_parallel} GPU(s)) to {gpus // tensor_parallel}"
            )
        replicas = replicas or max(1, (per_node // max(1, tensor_parallel)) * gpu_nodes)
        if tensor_parallel in (1, 2, 4, 8) and tensor_parallel <= per_node:
            _serving_fits(backend, instance, replicas, tensor_parallel, problems)
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
        hf_token=Secret(str(raw["hfToken"])) if raw.get("hfToken") else None,
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


def _signals(raw: Mapping[str, Any], problems: list[str]) -> SignalsConfig:
    return SignalsConfig(
        ttft_target_seconds=_bucket_target(raw, "ttftTargetSeconds", TTFT_BUCKETS, problems),
        itl_target_seconds=_bucket_target(raw, "itlTargetSeconds", ITL_BUCKETS, problems),
        e2e_target_seconds=_bucket_target(raw, "e2eLatencyTargetSeconds", REQUEST_LATENCY_BUCKETS, problems),
        slo_objective=_slo_objective(raw, problems),
        commercial_api_prices=_api_prices(raw, problems),
        gpu_idle_utilisation_percent=_integer(raw, "gpuIdleUtilisationPercent", 0, 100, problems),
        queue_alert_requests=_integer(raw, "queueAlertRequests", 1, 100000, problems),
    )


def parse(stack: str, raw: Mapping[str, Any]) -> StackConfig:
    """Validate every setting and return the frozen config, or raise one error listing every problem."""
    problems: list[str] = []
    cluster = _cluster(raw, problems)
    # An existing cluster (kubeconfig) opens nothing, so it needs no allowed networks.
    allowed_cidrs = _allowed_cidrs(raw, problems) if cluster.backend != "kubeconfig" else ()
    ipv6 = [cidr for cidr in allowed_cidrs if ":" in cidr]
    if cluster.backend == "eks" and ipv6:
        # The EKS cluster is IPv4: its public endpoint accepts no IPv6 CIDR, and the update would fail.
        problems.append(
            f"{_key('allowedCidrs')}: {ipv6} are IPv6, which an IPv4 EKS cluster's public endpoint does not "
            f"accept; allowed with {_key('clusterBackend')}=eks: IPv4 CIDRs only"
        )
    instance = _instance(raw, problems)
    root_volume = _root_volume(raw, problems)
    ami_id = _optional_id(raw, "amiId", "ami", problems)
    subnet_id = _optional_id(raw, "subnetId", "subnet", problems)
    ssh_user = str(raw.get("sshUser") or "")
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", ssh_user):
        problems.append(f"{_key('sshUser')}: {ssh_user!r} is not a Linux user name; allowed: like ubuntu")
    data_volume_gib = _integer(raw, "dataVolumeGiB", MIN_DATA_VOLUME_GIB, MAX_DATA_VOLUME_GIB, problems)
    keep_data = _boolean(raw, "keepData", problems)
    snapshot_days = _integer(raw, "dataSnapshotDays", 0, MAX_SNAPSHOT_DAYS, problems)
    tags = _tags(stack, raw, problems)
    hourly_price = _decimal(raw, "hourlyPriceUsd", problems)
    monthly_budget = _decimal(raw, "monthlyBudgetUsd", problems)
    platform = _platform(raw, problems)
    cost_guards = _cost_guards(raw, cluster.backend, monthly_budget, problems)
    workload = _workload(raw, instance, cluster.gpu_nodes, cluster.backend, problems)
    signals = _signals(raw, problems)
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
            data_volume_gib=data_volume_gib,
            keep_data=keep_data,
            snapshot_days=snapshot_days,
        ),
        cluster=cluster,
        cost=CostConfig(
            usd_per_hour=hourly_price or _hourly_cost(cluster, instance),
            gpu_count=instance.gpu_count * cluster.gpu_nodes,
            monthly_budget_usd=monthly_budget,
        ),
        signals=signals,
        tags=tags,
        platform=platform,
        cost_guards=cost_guards,
        workload=workload,
    )


# Settings that hold secrets but cannot be declared `secret: true` in Pulumi.yaml: the CLI then
# requires them in every stack (no default may be given to a secret), even where they are unused.
# The program reads them as secrets and refuses a value that was not stored encrypted.
SECRET_SETTINGS = ("alertReceiverUrl", "kubeconfig", "hfToken")


def _refuse_plaintext_secrets(raw: Mapping[str, Any]) -> None:
    problems = [
        f"{_key(key)} must be stored encrypted; allowed: `pulumi config set --secret {key} <value>`"
        for key in SECRET_SETTINGS
        if raw.get(key) and not pulumi.runtime.config.is_config_secret(_key(key))
    ]
    if problems:
        raise ConfigError(problems)


def load() -> StackConfig:
    """The program's entry: the engine's values for the current stack, validated."""
    raw = raw_from_pulumi()
    _refuse_plaintext_secrets(raw)
    return parse(pulumi.get_stack(), raw)


def load_from_files(stack: str) -> StackConfig:
    return parse(stack, raw_from_files(stack))

