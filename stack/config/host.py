"""The GPU host: its instance type, disks, network reach, AMI, subnet, login and AWS tags."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack import catalogue
from stack.catalogue import InstanceType
from stack.config.common import PROJECT, integer, optional_id, qualified
from stack.config.workloads import SIMULATOR

MIN_ROOT_VOLUME_GIB = 150
# The data volume: room for the model weights at least; gp3's largest size; DLM's longest daily count.
MIN_DATA_VOLUME_GIB = 50
MAX_DATA_VOLUME_GIB = 16384
MAX_SNAPSHOT_DAYS = 365
WORLD_CIDRS = frozenset({"0.0.0.0/0", "::/0"})
_TAG = re.compile(r"^([\w.:/+\-@ ]{1,128})=([\w.:/+\-@= ]{0,256})$")


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


def _allowed_cidrs(raw: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    cidrs = raw.get("allowedCidrs")
    if not cidrs or not isinstance(cidrs, list):
        problems.append(
            f"{qualified('allowedCidrs')} is required: a list of CIDRs that may reach SSH and the "
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
                f"{qualified('allowedCidrs')}: {cidr!r} is not a valid CIDR ({error}); "
                "allowed: IPv4 or IPv6 networks like 198.51.100.7/32 or 2001:db8::/64"
            )
            continue
        if str(network) in WORLD_CIDRS and not allow_world:
            problems.append(
                f"{qualified('allowedCidrs')}: {cidr!r} opens SSH and the Kubernetes API to the whole "
                "internet; allowed: narrower networks, or set "
                f"{qualified('allowWorldIngress')}=true to accept it deliberately"
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
            f"{qualified('instanceType')}: {name!r} is not a supported NVIDIA GPU instance type; allowed: {allowed}"
        )
    elif not instance.has_gpus and not simulated:
        problems.append(
            f"{qualified('instanceType')}: {name!r} has no GPU, which {qualified('servingMode')}="
            f"{raw.get('servingMode')!r} needs; allowed: an NVIDIA GPU type "
            f"({', '.join(catalogue.GPU_INSTANCE_TYPES)}), or set {qualified('servingMode')}=simulator "
            "to run llm-d's vLLM simulator on a CPU type"
        )
    return instance


def _root_volume(raw: Mapping[str, Any], problems: list[str]) -> int:
    size = raw.get("rootVolumeGiB")
    if not isinstance(size, int) or isinstance(size, bool) or size < MIN_ROOT_VOLUME_GIB:
        problems.append(
            f"{qualified('rootVolumeGiB')}: {size!r} is too small; allowed: a whole number of GiB, at "
            f"least {MIN_ROOT_VOLUME_GIB} (the AMI, images, model weights, metrics and traces)"
        )
        return MIN_ROOT_VOLUME_GIB
    return size


def tags(stack: str, raw: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    tags = {"Project": PROJECT, "Stack": stack, "ManagedBy": "pulumi"}
    for entry in raw.get("tags") or []:
        match = _TAG.match(str(entry))
        if not match or match.group(1).startswith("aws:"):
            problems.append(
                f"{qualified('tags')}: {entry!r} is not a tag; allowed: key=value strings, keys not starting with aws:"
            )
            continue
        tags[match.group(1)] = match.group(2)
    return tags


def parse(raw: Mapping[str, Any], backend: str, problems: list[str]) -> HostConfig | None:
    """The host's settings; None when the instance type is unknown (a problem is recorded)."""
    # An existing cluster (kubeconfig) opens nothing, so it needs no allowed networks.
    allowed_cidrs = _allowed_cidrs(raw, problems) if backend != "kubeconfig" else ()
    ipv6 = [cidr for cidr in allowed_cidrs if ":" in cidr]
    if backend == "eks" and ipv6:
        # The EKS cluster is IPv4: its public endpoint accepts no IPv6 CIDR, and the update would fail.
        problems.append(
            f"{qualified('allowedCidrs')}: {ipv6} are IPv6, which an IPv4 EKS cluster's public endpoint does not "
            f"accept; allowed with {qualified('clusterBackend')}=eks: IPv4 CIDRs only"
        )
    instance = _instance(raw, problems)
    root_volume = _root_volume(raw, problems)
    ami_id = optional_id(raw, "amiId", "ami", problems)
    subnet_id = optional_id(raw, "subnetId", "subnet", problems)
    ssh_user = str(raw.get("sshUser") or "")
    if not re.match(r"^[a-z_][a-z0-9_-]{0,31}$", ssh_user):
        problems.append(f"{qualified('sshUser')}: {ssh_user!r} is not a Linux user name; allowed: like ubuntu")
    data_volume_gib = integer(raw, "dataVolumeGiB", MIN_DATA_VOLUME_GIB, MAX_DATA_VOLUME_GIB, problems)
    keep_data = raw.get("keepData")
    if not isinstance(keep_data, bool):
        problems.append(f"{qualified('keepData')}: {keep_data!r} is not a boolean; allowed: true or false")
    snapshot_days = integer(raw, "dataSnapshotDays", 0, MAX_SNAPSHOT_DAYS, problems)
    if instance is None:
        return None
    return HostConfig(
        instance=instance,
        root_volume_gib=root_volume,
        allowed_cidrs=allowed_cidrs,
        ami_id=ami_id,
        subnet_id=subnet_id,
        ssh_user=ssh_user,
        data_volume_gib=data_volume_gib,
        keep_data=keep_data is True,
        snapshot_days=snapshot_days,
    )
