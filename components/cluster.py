"""What every cluster backend hands to the rest of the program: a provider and the facts about its nodes.

The platform, the workloads and the signals are written against this interface only, so the same stack
runs on MiniKube, on EKS or on an existing cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol

import pulumi
import pulumi_kubernetes as k8s

# GPU nodes carry this label (NVIDIA's GPU feature discovery sets it; our EKS GPU node group sets it
# itself) and may carry the matching NoSchedule taint, so only GPU workloads land on them.
GPU_NODE_LABELS: Mapping[str, str] = {"nvidia.com/gpu.present": "true"}
GPU_TOLERATIONS: tuple[Mapping[str, str], ...] = (
    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
)
# The EKS node group for everything that needs no GPU (the observability stack among it).
SYSTEM_NODE_LABELS: Mapping[str, str] = {"llm-observability/pool": "system"}


@dataclass(frozen=True)
class ClusterFacts:
    """Plain facts the components need about the cluster's nodes."""

    backend: str
    gpu_nodes: int
    gpus_per_node: int
    # None: the cluster's default storage class.
    storage_class: str | None
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[Mapping[str, str], ...] = ()
    system_node_selector: Mapping[str, str] = field(default_factory=dict)
    # Where a pod's packets to the API server (Service kubernetes.default) are headed when the cluster's
    # network-policy engine judges them, and on which ports: before or after kube-proxy's DNAT depends on
    # the engine. Empty: unknown (an existing cluster), and components/network_policies.py falls back.
    api_server_cidrs: tuple[str, ...] = ()
    api_server_ports: tuple[int, ...] = ()
    # The nodes' own addresses (kubelets, host-network exporters, control-plane endpoints); empty: unknown.
    node_cidrs: tuple[str, ...] = ()

    @property
    def gpu_count(self) -> int:
        return self.gpu_nodes * self.gpus_per_node


class KubernetesCluster(Protocol):
    """Any backend: MinikubeCluster, EksCluster or ExistingCluster."""

    provider: k8s.Provider
    facts: ClusterFacts
    kubeconfig: pulumi.Output[str]
