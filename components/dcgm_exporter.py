"""NVIDIA DCGM-Exporter: per-GPU telemetry, attributed to the pod holding each GPU.

It only reads the GPUs: MiniKube's `--gpus all` already runs the nvidia-device-plugin addon, the one
device plugin in the cluster, so neither NVIDIA's device-plugin chart nor the GPU Operator is installed.
The image sets NVIDIA_VISIBLE_DEVICES=all, so the exporter sees every GPU without requesting one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi

from components.helm import placement, release, resources
from stack.versions import HelmChart, Image

RELEASE_NAME = "dcgm-exporter"
SERVICE = "dcgm-exporter"
JOB = "dcgm-exporter"

# The chart's default toleration, kept when GPU tolerations are added (a list replaces the default).
CONTROL_PLANE_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class DcgmExporterArgs:
    namespace: str
    chart: HelmChart
    image: Image
    # The exporter's counter list (CSV): exactly the fields the dashboards and alerts read, several of
    # which the chart's default list lacks.
    counters_csv: str
    # The GPU nodes (and their taints), where the cluster labels them; empty on MiniKube's one node.
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[Mapping[str, str], ...] = ()
    # The prometheus-operator CRDs (the chart's ServiceMonitor) and the namespace.
    depends_on: Sequence[pulumi.Resource] = ()


def dcgm_exporter_values(args: DcgmExporterArgs) -> dict[str, Any]:
    return {
        "fullnameOverride": SERVICE,
        # The chart joins `repository:tag` and has no digest key (deployment/templates/daemonset.yaml at
        # 4.5.3-4.8.2), so the digest rides in the tag.
        "image": {"repository": args.image.name, "tag": args.image.tag_with_digest},
        # Read by the chart's metrics ConfigMap template; its values.yaml has no default for it.
        "customMetrics": args.counters_csv,
        "resources": resources("100m", "256Mi", "500m", "1Gi"),
        "service": {"type": "ClusterIP"},
        **placement(
            args.gpu_node_selector,
            (CONTROL_PLANE_TOLERATION, *args.gpu_tolerations) if args.gpu_tolerations else (),
        ),
        # The exporter labels each GPU's series with the pod, namespace and container holding it
        # (from the kubelet's pod-resources API, which the chart mounts); honorLabels false keeps the
        # exporter's own target labels and moves those to exported_pod/exported_namespace/...
        "kubernetes": {"enablePodLabels": False, "enablePodUID": False},
        "serviceMonitor": {
            "enabled": True,
            "interval": "15s",
            "honorLabels": False,
            "relabelings": [{"action": "replace", "targetLabel": "job", "replacement": JOB}],
        },
    }


class DcgmExporter(pulumi.ComponentResource):
    service: str

    def __init__(self, name: str, args: DcgmExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:monitoring:DcgmExporter", name, None, opts)
        exporter = release(
            f"{name}-release", args.chart, RELEASE_NAME, args.namespace, dcgm_exporter_values(args),
            parent=self, depends_on=args.depends_on,
        )
        self.service = SERVICE
        self.register_outputs({"status": exporter.status})
