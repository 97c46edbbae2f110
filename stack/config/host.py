"""The GPU host: its instance type, disks, network reach, AMI, subnet, login and AWS tags."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Mapping

from stack import catalogue
from stack.catalogue import InstanceType
from stack.config.common import PROJECT, boolean, integer, optional_id, qualified, shown
from stack.config.workloads import SERVING_MODES, SIMULATOR

MIN_ROOT_VOLUME_GIB = 150
MAX_ROOT_VOLUME_GIB = 16384  # gp3's largest volume (16 TiB).
# The data volume: room for the model weights at least; gp3's largest size; DLM's longest daily count.
MIN_DATA_VOLUME_GIB = 50
MAX_DATA_VOLUME_GIB = 16384
MAX_SNAPSHOT_DAYS = 365
# Together, allowed networks may cover at most this share of an address family without allowWorldIngress:
# a /8 of IPv4 or a /32 of IPv6. Beyond that, splitting 0.0.0.0/0 into halves would open the world.
MAX_ADDRESSES = {4: 2**24, 6: 2**96}
# A security group holds 60 inbound rules per address family; each network takes one rule per port (SSH
# and the API), and a CI deploy adds its runner's /32 for the run (scripts/ci-ingress.sh).
MAX_CIDRS_PER_FAMILY = 60 // 2 - 1
MAX_EKS_PUBLIC_CIDRS = 40 - 1  # EKS's limit on publicAccessCidrs, less the CI runner's /32.
# AWS allows 50 tags per resource; the program sets Project, Stack, ManagedBy and, on some resources, Name.
RESERVED_TAG_KEYS = ("Project", "Stack", "ManagedBy", "Name")
MAX_USER_TAGS = 50 - len(RESERVED_TAG_KEYS)
# IPv6 ranges that carry IPv4 addresses (RFC 4291 mapped and compatible, RFC 6052 NAT64, RFC 3056 6to4).
IPV4_IN_IPV6 = tuple(
    ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::/96", "64:ff9b::/96", "2002::/16")
)
_TAG = re.compile(r"([\w.:/+\-@ ]{1,128})=([\w.:/+\-@= ]{0,256})", re.ASCII)


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
            f"{qualified('allowedCidrs')} is required; allowed: a list of the CIDRs that may reach SSH and the "
            "Kubernetes API, for example ['100.64.1.2/32'] (scripts/deploy.sh offers your address)"
        )
        return ()
    allow_world = raw.get("allowWorldIngress") is True  # Anything else is refused in parse().
    valid: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for cidr in cidrs:
        try:
            network = ipaddress.ip_network(str(cidr), strict=True)
        except ValueError as error:
            problems.append(
                f"{qualified('allowedCidrs')}: {shown(cidr)} is not a valid CIDR ({shown(str(error)).strip(chr(39))}); "
                "allowed: IPv4 or IPv6 networks like 198.51.100.7/32 or 2001:db8::/64"
            )
            continue
        if isinstance(network, ipaddress.IPv6Network) and any(network.subnet_of(e) for e in IPV4_IN_IPV6):
            problems.append(
                f"{qualified('allowedCidrs')}: {shown(cidr)} is IPv4 written as IPv6 (mapped or translated "
                "addresses), which a security group matches as neither; allowed: the IPv4 network itself"
            )
            continue
        if network in valid:
            problems.append(f"{qualified('allowedCidrs')}: {shown(cidr)} is listed twice; allowed: each network once")
            continue
        valid.append(network)
    for version in (4, 6):
        family = [n for n in valid if n.version == version]
        covered = sum(n.num_addresses for n in ipaddress.collapse_addresses(family))  # type: ignore[misc]
        if covered > MAX_ADDRESSES[version] and not allow_world:
            total = 2 ** (32 if version == 4 else 128)
            subject = f"{shown(str(family[0]))} opens" if len(family) == 1 else f"{shown([str(n) for n in family])} together open"
            reach = "the whole internet" if covered == total else f"{covered / total:.2%} of all IPv{version} addresses"
            problems.append(
                f"{qualified('allowedCidrs')}: {subject} SSH and the Kubernetes API to {reach}; allowed: at most a /"
                f"{8 if version == 4 else 32} in all, or set {qualified('allowWorldIngress')}=true to accept it "
                "deliberately"
            )
        if len(family) > MAX_CIDRS_PER_FAMILY:
            problems.append(
                f"{qualified('allowedCidrs')}: {len(family)} IPv{version} networks exceed the security group's "
                f"rule quota; allowed: at most {MAX_CIDRS_PER_FAMILY} per address family"
            )
    return tuple(str(n) for n in valid)


def _instance(raw: Mapping[str, Any], problems: list[str]) -> InstanceType | None:
    """GPU types always; CPU types only when model serving is the simulator (the no-GPU mode)."""
    name = raw.get("instanceType")
    instance = catalogue.lookup(str(name))
    simulated = raw.get("servingMode") == SIMULATOR
    known_mode = raw.get("servingMode") in SERVING_MODES  # An unknown one is refused on its own.
    if instance is None:
        allowed = ", ".join(catalogue.GPU_INSTANCE_TYPES)
        if simulated:
            allowed += ", or with servingMode=simulator: " + ", ".join(catalogue.CPU_INSTANCE_TYPES)
        problems.append(
            f"{qualified('instanceType')}: {shown(name)} is not a supported NVIDIA GPU instance type; allowed: {allowed}"
        )
    elif not instance.has_gpus and not simulated and known_mode:
        problems.append(
            f"{qualified('instanceType')}: {shown(name)} has no GPU, which {qualified('servingMode')}="
            f"{shown(raw.get('servingMode'))} needs; allowed: an NVIDIA GPU type "
            f"({', '.join(catalogue.GPU_INSTANCE_TYPES)}), or set {qualified('servingMode')}=simulator "
            "to run llm-d's vLLM simulator on a CPU type"
        )
    return instance


def _root_volume(raw: Mapping[str, Any], problems: list[str]) -> int:
    size = raw.get("rootVolumeGiB")
    if not isinstance(size, int) or isinstance(size, bool) or not MIN_ROOT_VOLUME_GIB <= size <= MAX_ROOT_VOLUME_GIB:
        problems.append(
            f"{qualified('rootVolumeGiB')}: {shown(size)} is not allowed; allowed: a whole number of GiB from "
            f"{MIN_ROOT_VOLUME_GIB} (the AMI, images, model weights, metrics and traces) to "
            f"{MAX_ROOT_VOLUME_GIB} (gp3's largest volume)"
        )
        return MIN_ROOT_VOLUME_GIB
    return size


def tags(stack: str, raw: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    tags = {"Project": PROJECT, "Stack": stack, "ManagedBy": "pulumi"}
    entries = raw.get("tags") or []
    if not isinstance(entries, list):
        problems.append(f"{qualified('tags')}: {shown(entries)} is not a list; allowed: key=value strings")
        return tags
    user_keys: set[str] = set()
    for entry in entries:
        match = _TAG.fullmatch(str(entry))
        if not match or match.group(1).lower().startswith("aws:"):
            problems.append(
                f"{qualified('tags')}: {shown(entry)} is not a tag; allowed: key=value strings, keys not starting with aws:"
            )
            continue
        key, value = match.groups()
        if key in RESERVED_TAG_KEYS:
            problems.append(
                f"{qualified('tags')}: {shown(entry)} would override the program's own {key} tag; allowed: keys "
                f"other than {', '.join(RESERVED_TAG_KEYS)}"
            )
        elif key in user_keys:
            problems.append(f"{qualified('tags')}: {shown(entry)} sets {key} a second time; allowed: each key once")
        else:
            user_keys.add(key)
            tags[key] = value
    if len(user_keys) > MAX_USER_TAGS:
        problems.append(
            f"{qualified('tags')}: {len(user_keys)} tags; allowed: at most {MAX_USER_TAGS} (AWS's 50 per resource, "
            f"less {', '.join(RESERVED_TAG_KEYS)})"
        )
    return tags


def parse(raw: Mapping[str, Any], backend: str, problems: list[str]) -> HostConfig | None:
    """The host's settings; None when the instance type is unknown (a problem is recorded)."""
    boolean(raw, "allowWorldIngress", problems)
    # An existing cluster (kubeconfig) opens nothing, so it needs no allowed networks.
    allowed_cidrs = _allowed_cidrs(raw, problems) if backend != "kubeconfig" else ()
    ipv6 = [cidr for cidr in allowed_cidrs if ":" in cidr]
    if backend == "eks" and len(allowed_cidrs) > MAX_EKS_PUBLIC_CIDRS:
        problems.append(
            f"{qualified('allowedCidrs')}: {len(allowed_cidrs)} networks; allowed with {qualified('clusterBackend')}"
            f"=eks: at most {MAX_EKS_PUBLIC_CIDRS} (the API endpoint's limit, less CI's runner)"
        )
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
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", ssh_user, re.ASCII):
        problems.append(f"{qualified('sshUser')}: {shown(ssh_user)} is not a Linux user name; allowed: like ubuntu")
    data_volume_gib = integer(raw, "dataVolumeGiB", MIN_DATA_VOLUME_GIB, MAX_DATA_VOLUME_GIB, problems)
    keep_data = boolean(raw, "keepData", problems)
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
        keep_data=keep_data,
        snapshot_days=snapshot_days,
    )
