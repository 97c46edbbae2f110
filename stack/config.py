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
    name = raw.get("instanceType")
    instance = catalogue.lookup(str(name))
    if instance is None:
        problems.append(
            f"{_key('instanceType')}: {name!r} is not a supported NVIDIA GPU instance type; "
            f"allowed: {', '.join(catalogue.GPU_INSTANCE_TYPES)}"
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


def _bounded_int(raw: Mapping[str, Any], key: str, low: int, high: int, problems: list[str]) -> int:
    value = raw.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        problems.append(f"{_key(key)}: {value!r} is out of range; allowed: a whole number from {low} to {high}")
        return low
    return value


def _signals(raw: Mapping[str, Any], problems: list[str]) -> SignalsConfig:
    return SignalsConfig(
        ttft_target_seconds=_bucket_target(raw, "ttftTargetSeconds", TTFT_BUCKETS, problems),
        itl_target_seconds=_bucket_target(raw, "itlTargetSeconds", ITL_BUCKETS, problems),
        e2e_target_seconds=_bucket_target(raw, "e2eLatencyTargetSeconds", REQUEST_LATENCY_BUCKETS, problems),
        slo_objective=_slo_objective(raw, problems),
        commercial_api_prices=_api_prices(raw, problems),
        gpu_idle_utilisation_percent=_bounded_int(raw, "gpuIdleUtilisationPercent", 0, 100, problems),
        queue_alert_requests=_bounded_int(raw, "queueAlertRequests", 1, 100000, problems),
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
        signals=signals,
        tags=tags,
    )


def load() -> StackConfig:
    """The program's entry: the engine's values for the current stack, validated."""
    return parse(pulumi.get_stack(), raw_from_pulumi())


def load_from_files(stack: str) -> StackConfig:
    return parse(stack, raw_from_files(stack))

