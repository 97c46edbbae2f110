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

# (DCGM field, Prometheus type, help): the counters the GPU and cost dashboards read. Field names are
# DCGM 4's (DCGM_FI_DEV_CLOCKS_EVENT_REASONS, formerly ..._CLOCK_THROTTLE_REASONS); the exporter
# exposes each under its field name. Only what an L4 reports: no NVLink, no row remapping.
COUNTERS: tuple[tuple[str, str, str], ...] = (
    ("DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %)."),
    ("DCGM_FI_DEV_MEM_COPY_UTIL", "gauge", "Memory utilization (in %)."),
    ("DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB)."),
    ("DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB)."),
    ("DCGM_FI_DEV_FB_RESERVED", "gauge", "Framebuffer memory reserved (in MiB)."),
    ("DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W)."),
    ("DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ)."),
    ("DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C)."),
    ("DCGM_FI_DEV_MEMORY_TEMP", "gauge", "Memory temperature (in C)."),
    ("DCGM_FI_DEV_SM_CLOCK", "gauge", "SM clock frequency (in MHz)."),
    ("DCGM_FI_DEV_MEM_CLOCK", "gauge", "Memory clock frequency (in MHz)."),
    ("DCGM_FI_DEV_XID_ERRORS", "gauge", "Value of the last XID error encountered."),
    ("DCGM_FI_DEV_CLOCKS_EVENT_REASONS", "gauge", "Bitmask of the reasons clocks are being held down."),
    ("DCGM_FI_DEV_POWER_VIOLATION", "counter", "Throttling duration due to power constraints (in ns)."),
    ("DCGM_FI_DEV_THERMAL_VIOLATION", "counter", "Throttling duration due to thermal constraints (in ns)."),
    ("DCGM_FI_DEV_PCIE_REPLAY_COUNTER", "counter", "Total number of PCIe retries."),
    ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active."),
    ("DCGM_FI_PROF_SM_ACTIVE", "gauge", "Ratio of cycles an SM has at least one warp assigned."),
    ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "gauge", "Ratio of cycles the tensor (HMMA) pipe is active."),
    ("DCGM_FI_PROF_DRAM_ACTIVE", "gauge", "Ratio of cycles the device memory interface is active."),
    ("DCGM_FI_PROF_PCIE_TX_BYTES", "gauge", "Rate of data transmitted over PCIe (bytes per second)."),
    ("DCGM_FI_PROF_PCIE_RX_BYTES", "gauge", "Rate of data received over PCIe (bytes per second)."),
)
EXPORTED_METRICS = tuple(name for name, _, _ in COUNTERS)
# The chart's default toleration, kept when GPU tolerations are added (a list replaces the default).
CONTROL_PLANE_TOLERATION = {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}


@dataclass(frozen=True)
class DcgmExporterArgs:
    namespace: str
    chart: HelmChart
    image: Image
    # The GPU nodes (and their taints), where the cluster labels them; empty on MiniKube's one node.
    gpu_node_selector: Mapping[str, str] = field(default_factory=dict)
    gpu_tolerations: tuple[Mapping[str, str], ...] = ()
    # The prometheus-operator CRDs (the chart's ServiceMonitor) and the namespace.
    depends_on: Sequence[pulumi.Resource] = ()


def counters_csv() -> str:
    """The exporter's counter list, in its CSV format: field, Prometheus type, help."""
    lines = ["# DCGM field, Prometheus metric type, help message"]
    lines += [f"{name}, {kind}, {help_text}" for name, kind, help_text in COUNTERS]
    return "\n".join(lines) + "\n"


def dcgm_exporter_values(args: DcgmExporterArgs) -> dict[str, Any]:
    return {
        "fullnameOverride": SERVICE,
        "image": {"repository": f"{args.image.registry}/{args.image.repository}", "tag": args.image.tag},
        # Read by the chart's metrics ConfigMap template; its values.yaml has no default for it.
        "customMetrics": counters_csv(),
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
