"""An existing Kubernetes cluster, reached through a kubeconfig the user gives as a secret."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import GPU_NODE_LABELS, GPU_TOLERATIONS, ClusterFacts


@dataclass(frozen=True)
class ExistingClusterArgs:
    kubeconfig: pulumi.Input[str]
    gpu_nodes: int
    gpus_per_node: int
    storage_class: str | None


class ExistingCluster(pulumi.ComponentResource):
    """Declares no compute: only a provider for the given cluster, and what the program assumes of it.

    Assumed: the NVIDIA device plugin runs (GPU operator or plugin chart), and GPU nodes are labelled
    nvidia.com/gpu.present=true, as NVIDIA's GPU feature discovery does.
    """

    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider
    facts: ClusterFacts

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:cluster:ExistingCluster", name, None, opts)
        self.kubeconfig = pulumi.Output.secret(args.kubeconfig)
        self.provider = k8s.Provider(
            f"{name}-k8s", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(parent=self)
        )
        self.facts = ClusterFacts(
            backend="kubeconfig",
            gpu_nodes=args.gpu_nodes,
            gpus_per_node=args.gpus_per_node,
            storage_class=args.storage_class,
            gpu_node_selector=GPU_NODE_LABELS,
            gpu_tolerations=GPU_TOLERATIONS,
        )
        self.register_outputs({"kubeconfig": self.kubeconfig})
