"""Where Kubernetes comes from: MiniKube on the GPU host, a new EKS cluster, or an existing cluster."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from stack import catalogue, versions
from stack.catalogue import InstanceType
from stack.config.common import Encrypted, Problems, Secret, count, is_id, qualified, secret, shown

KUBE_API_PORT = 8443
BACKENDS = ("minikube", "eks", "kubeconfig")
# The storage class each backend offers when storageClass is empty (None: the cluster's default).
DEFAULT_STORAGE_CLASS = {"minikube": "standard", "eks": "gp3", "kubeconfig": None}
# Kubernetes object names (DNS-1123 subdomains).
_OBJECT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII)
_RELEASE_VERSION = re.compile(r"v\d+\.\d+\.\d+", re.ASCII)
# An IAM role (any path) or user of one account, in any partition.
_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}", re.ASCII)


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
    # IAM users and roles given cluster-admin through EKS access entries (people and CI alike).
    eks_admin_principal_arns: tuple[str, ...]
    kubeconfig: Secret | None


def release_version(raw: Mapping[str, Any], key: str, pinned: str, problems: list[str]) -> str:
    value = raw.get(key) or pinned
    if not _RELEASE_VERSION.fullmatch(str(value)):
        problems.append(
            f"{qualified(key)}: {shown(value)} is not a release version; allowed: vMAJOR.MINOR.PATCH like {pinned}"
        )
    return str(value)


def parse(raw: Mapping[str, Any], problems: Problems) -> ClusterConfig:
    backend = str(raw.get("clusterBackend") or "")
    if backend not in BACKENDS:
        problems.append(f"{qualified('clusterBackend')}: {shown(backend)} is not a backend; allowed: {', '.join(BACKENDS)}")
    gpu_nodes = count(raw, "gpuNodes", problems)
    if backend == "minikube" and gpu_nodes != 1 and not problems.refused("gpuNodes"):
        problems.append(
            f"{qualified('gpuNodes')}: {gpu_nodes} GPU nodes need clusterBackend eks or kubeconfig; "
            "allowed with minikube: 1 (one host)"
        )
    system_name = str(raw.get("eksSystemInstanceType") or "")
    system_instance = catalogue.CPU_INSTANCE_TYPES.get(system_name)
    if system_instance is None:
        problems.append(
            f"{qualified('eksSystemInstanceType')}: {shown(system_name)} is not a supported type for the system nodes; "
            f"allowed: {', '.join(catalogue.CPU_INSTANCE_TYPES)}"
        )
    subnet_ids = tuple(str(s) for s in raw.get("eksSubnetIds") or [])
    if any(not is_id(s, "subnet") for s in subnet_ids) or len(subnet_ids) == 1:
        problems.append(
            f"{qualified('eksSubnetIds')}: {shown(list(subnet_ids))} is not a subnet list; allowed: empty (the default "
            "VPC) or two or more subnet-<hex> ids in different availability zones"
        )
    admins = raw.get("eksAdminPrincipalArns") or []
    if not isinstance(admins, list) or any(not _PRINCIPAL_ARN.fullmatch(str(arn)) for arn in admins):
        problems.append(
            f"{qualified('eksAdminPrincipalArns')}: {admins!r} is not a list of IAM principal ARNs; allowed: "
            "arn:aws:iam::<account>:role/<name> or arn:aws:iam::<account>:user/<name>"
        )
        admins = []
    eks_version = str(raw.get("eksKubernetesVersion") or versions.EKS_KUBERNETES)
    if eks_version not in versions.EKS_KUBERNETES_VERSIONS:
        problems.append(
            f"{qualified('eksKubernetesVersion')}: {shown(eks_version)} is not a supported EKS version; allowed: "
            f"{', '.join(versions.EKS_KUBERNETES_VERSIONS)}, or empty for {versions.EKS_KUBERNETES}"
        )
    kubeconfig = secret(raw, "kubeconfig")
    if backend == "kubeconfig":
        if kubeconfig is None:
            problems.append(
                f"{qualified('kubeconfig')} is required with clusterBackend kubeconfig; allowed: the cluster's "
                "kubeconfig, set with `pulumi config set --secret kubeconfig < file`"
            )
        elif isinstance(kubeconfig.value, Encrypted):
            pass  # Its plaintext is checked where it is known: in the engine's run.
        elif not isinstance(yaml_or_none(kubeconfig.value), dict) or "clusters" not in yaml_or_none(kubeconfig.value):
            problems.append(f"{qualified('kubeconfig')}: the value (not shown) is not a kubeconfig; allowed: a kubeconfig YAML document")
    storage_class = str(raw.get("storageClass") or "") or DEFAULT_STORAGE_CLASS.get(backend)
    if storage_class is not None and (len(storage_class) > 253 or not _OBJECT_NAME.fullmatch(storage_class)):
        problems.append(
            f"{qualified('storageClass')}: {shown(storage_class)} is not a StorageClass name; allowed: lower-case "
            "letters, digits, '-' and '.', starting and ending with a letter or digit (a DNS subdomain), or empty"
        )
    return ClusterConfig(
        backend=backend,
        gpu_nodes=gpu_nodes,
        storage_class=storage_class,
        kubernetes_version=release_version(raw, "kubernetesVersion", versions.KUBERNETES, problems),
        minikube_version=release_version(raw, "minikubeVersion", versions.MINIKUBE, problems),
        api_port=KUBE_API_PORT,
        eks_kubernetes_version=eks_version,
        eks_system_instance=system_instance or next(iter(catalogue.CPU_INSTANCE_TYPES.values())),
        eks_system_nodes=count(raw, "eksSystemNodes", problems),
        eks_subnet_ids=subnet_ids,
        eks_admin_principal_arns=tuple(str(arn) for arn in admins),
        kubeconfig=kubeconfig,
    )


def yaml_or_none(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None

