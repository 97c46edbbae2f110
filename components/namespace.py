"""A Kubernetes namespace, created on the cluster's provider and named exactly (no random suffix), with
the Pod Security Admission level its pods are held to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

# Pod Security Admission levels (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
BASELINE = "baseline"
RESTRICTED = "restricted"
PRIVILEGED = "privileged"
# The standards as of the pinned Kubernetes minor, so a cluster upgrade does not tighten them unseen.
POD_SECURITY_VERSION = "v1.34"


def pod_security_labels(enforce: str, warn: str) -> dict[str, str]:
    """Refuse pods below `enforce`; warn (and audit) those below `warn`."""
    prefix = "pod-security.kubernetes.io"
    return {
        f"{prefix}/enforce": enforce,
        f"{prefix}/enforce-version": POD_SECURITY_VERSION,
        f"{prefix}/warn": warn,
        f"{prefix}/warn-version": POD_SECURITY_VERSION,
        f"{prefix}/audit": warn,
        f"{prefix}/audit-version": POD_SECURITY_VERSION,
    }


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    # Every namespace the program creates says what its pods may do: baseline unless given otherwise.
    enforce: str = BASELINE
    warn: str = RESTRICTED
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
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.name, labels={**args.labels, **pod_security_labels(args.enforce, args.warn)}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"name": self.resource.metadata.name})
