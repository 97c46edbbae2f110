"""What every Helm release of the platform shares: exact chart pins, real releases, fixed names."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from stack.versions import HelmChart

# Long enough for a first pull of the images over the host's link; a stuck release still fails.
RELEASE_TIMEOUT_SECONDS = 900


def resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict[str, dict[str, str]]:
    """A container's requests and limits, in the shape every chart takes."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu_limit, "memory": memory_limit}}


def placement(
    node_selector: Mapping[str, str], tolerations: Sequence[Mapping[str, str]] = ()
) -> dict[str, Any]:
    """nodeSelector/tolerations values, only when the cluster asks for them (none on MiniKube)."""
    values: dict[str, Any] = {}
    if node_selector:
        values["nodeSelector"] = dict(node_selector)
    if tolerations:
        values["tolerations"] = [dict(t) for t in tolerations]
    return values


def chart_source(chart: HelmChart) -> dict[str, Any]:
    """The Release arguments that say which chart to install: a repository's chart, or an OCI reference.

    An oci:// chart is named by its full reference and must not get repository_opts (there is no index).
    """
    if chart.is_oci:
        return {"chart": chart.reference, "version": chart.version}
    return {
        "chart": chart.name,
        "version": chart.version,
        "repository_opts": k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo),
    }


def release(
    resource_name: str,
    chart: HelmChart,
    release_name: str,
    namespace: str,
    values: Mapping[str, Any],
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> k8s.helm.v3.Release:
    """A real Helm release (visible to `helm list`) of a pinned chart version from its repository.

    The provider comes from the parent component (the cluster's provider, passed in its options).
    """
    return k8s.helm.v3.Release(
        resource_name,
        k8s.helm.v3.ReleaseArgs(
            name=release_name,
            **chart_source(chart),
            namespace=namespace,
            create_namespace=False,
            values=dict(values),
            atomic=True,
            cleanup_on_fail=True,
            timeout=RELEASE_TIMEOUT_SECONDS,
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
    )
