"""A Kubernetes namespace, created on the cluster's provider and named exactly (no random suffix)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)


class Namespace(pulumi.ComponentResource):
    """Owns one namespace; `name` is the plain string other components put their objects in."""

    name: str
    resource: k8s.core.v1.Namespace

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:k8s:Namespace", name, None, opts)
        self.name = args.name
        self.resource = k8s.core.v1.Namespace(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.name, labels=dict(args.labels)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.resource.metadata.name})
