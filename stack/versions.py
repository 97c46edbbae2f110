"""Every version the stack installs, pinned in one place.

A version written anywhere else drifts from this one; components receive these values through the
stack wiring. The README's versions tables (charts, images, host tools, packages) are checked against this
module by the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class HelmChart:
    """A chart release: name, the repository it is fetched from, and the exact version installed.

    `repo` is a classic Helm repository (https://) or an OCI registry path (oci://), in which case the
    chart is referenced as `<repo>/<name>` and there is no index to fetch. `app_version` is what the chart
    runs, where we track it; empty when the images are set by us and listed in the image table.
    """

    name: str
    repo: str
    version: str
    app_version: str = ""

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")

    @property
    def reference(self) -> str:
        """What `helm install` takes: the bare name with a repository, the full oci:// path without one."""
        return f"{self.repo}/{self.name}" if self.is_oci else self.name


# The digest of an image index (or manifest): what a tag resolved to when it was pinned.
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Image:
    """An image pinned by tag and by the digest of the tag's multi-arch index.

    The kubelet pulls by the digest, so a tag re-pushed upstream cannot change what runs; the tag stays
    for people. Where a digest is known it was read from public pins that agree (tests/reference/
    image-digests.txt) and is checked against the registries by scripts/verify-image-digests.py. An
    empty digest is allowed only for the images in DIGEST_EXCEPTIONS, each with its reason.
    """

    registry: str
    repository: str
    tag: str
    digest: str = ""

    def __post_init__(self) -> None:
        if self.digest and not DIGEST.fullmatch(self.digest):
            raise ValueError(f"{self.name}:{self.tag}: digest {self.digest!r} is not sha256:<64 hex digits>")

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def tagged(self) -> str:
        return f"{self.name}:{self.tag}"

    @property
    def reference(self) -> str:
        """What a pod's `image` takes: `registry/repository:tag@sha256:...` (tag only for an exception)."""
        return f"{self.tagged}@{self.digest}" if self.digest else self.tagged

    @property
    def tag_with_digest(self) -> str:
        """The tag value for charts that only join `repository:tag`: the digest rides in the tag."""
        return f"{self.tag}@{self.digest}" if self.digest else self.tag

    @property
    def digest_hex(self) -> str:
        """The 64 hex digits alone, for charts whose template writes `@sha256:` itself."""
        return self.digest.removeprefix("sha256:")


@dataclass(frozen=True)
class Pin:
    """A tool or package pinned by version (host tools, the workload's Python packages)."""

    name: str
    version: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


# --- Host tools: installed on the GPU host by a remote step, or the cluster the backends create ---
# Plain strings: they are also the fallbacks of the kubernetesVersion/minikubeVersion/eksKubernetesVersion
# settings (empty means "the tested pin").
MINIKUBE = "v1.37.0"
# MiniKube v1.37's default Kubernetes; kubectl on the host matches the server's minor version.
KUBERNETES = "v1.34.0"
KUBECTL = KUBERNETES

# EKS (clusterBackend eks): the same Kubernetes minor as MiniKube, so one set of charts fits both.
EKS_KUBERNETES = "1.34"
# The EKS minors eksKubernetesVersion may name: the pin, and the one before it (EKS upgrades a cluster
# one minor at a time, so a cluster on the previous minor can still be managed while it is upgraded).
EKS_KUBERNETES_VERSIONS = ("1.33", EKS_KUBERNETES)

# The AWS Deep Learning Base OSS NVIDIA Driver GPU AMI (Ubuntu 24.04): NVIDIA driver, container
# toolkit and Docker preinstalled. Resolved through AWS's public SSM parameter when no AMI is given.
GPU_AMI_SSM_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
)

# The CloudWatch agent that publishes the GPUs' utilisation for the idle guard; AWS serves no checksum
# beside the package, so its SHA-256 is pinned here with the version.
CLOUDWATCH_AGENT = "1.300072.0b1766"
CLOUDWATCH_AGENT_URL = (
    f"https://amazoncloudwatch-agent.s3.amazonaws.com/ubuntu/amd64/{CLOUDWATCH_AGENT}/amazon-cloudwatch-agent.deb"
)
CLOUDWATCH_AGENT_SHA256 = "05baeadca96c4bb8e43906ed09cf0bebd0f321ff6d41987bdc46ce681de0978d"

HOST_TOOLS = (
    Pin("minikube", MINIKUBE),
    Pin("kubernetes (MiniKube)", KUBERNETES),
    Pin("kubectl", KUBECTL),
    Pin("kubernetes (EKS)", EKS_KUBERNETES),
    Pin("GPU AMI (SSM parameter)", GPU_AMI_SSM_PARAMETER),
    Pin("amazon-cloudwatch-agent", CLOUDWATCH_AGENT),
)

# --- The observability platform on the cluster ------------------------------------------------------

PROMETHEUS_COMMUNITY_REPO = "https://prometheus-community.github.io/helm-charts"
GRAFANA_COMMUNITY_REPO = "https://grafana-community.github.io/helm-charts"
OPEN_TELEMETRY_REPO = "https://open-telemetry.github.io/opentelemetry-helm-charts"
NVIDIA_DCGM_EXPORTER_REPO = "https://nvidia.github.io/dcgm-exporter/helm-charts"

# Prometheus 3.x, Alertmanager, Grafana and the Prometheus Operator v0.93.1.
KUBE_PROMETHEUS_STACK = HelmChart(
    "kube-prometheus-stack", PROMETHEUS_COMMUNITY_REPO, "88.5.3", app_version="v0.93.1"
)
# Helm installs CRDs once and never upgrades them, so they come from their own chart, released in
# lockstep with the operator: keep app_version equal to KUBE_PROMETHEUS_STACK's when bumping either.
PROMETHEUS_OPERATOR_CRDS = HelmChart(
    "prometheus-operator-crds", PROMETHEUS_COMMUNITY_REPO, "31.0.1", app_version="v0.93.1"
)
# The single-binary chart moved from grafana/helm-charts to grafana-community; 2.2.4 ships Tempo 2.10.8.
TEMPO = HelmChart("tempo", GRAFANA_COMMUNITY_REPO, "2.2.4", app_version="2.10.8")
# Chart 0.170.0 targets collector 0.158.0, whose component names (k8s_attributes, span_metrics,
# otlp_grpc) are the lower_snake_case ones; older images only know the deprecated aliases.
OPENTELEMETRY_COLLECTOR = HelmChart(
    "opentelemetry-collector", OPEN_TELEMETRY_REPO, "0.170.0", app_version="0.158.0"
)
DCGM_EXPORTER = HelmChart("dcgm-exporter", NVIDIA_DCGM_EXPORTER_REPO, "4.8.2", app_version="4.8.2")

# Images, set explicitly in the values so this table is what runs (each is its chart's default), each
# with the digest of its tag's multi-arch index (where the digests come from: Image's docstring).
PROMETHEUS_IMAGE = Image(
    "quay.io", "prometheus/prometheus", "v3.14.0-distroless",
    "sha256:50c707e96da5ade383cb1707790576480485e93de06aa60ad8802cb5f744bd0a",
)
ALERTMANAGER_IMAGE = Image(
    "quay.io", "prometheus/alertmanager", "v0.34.0",
    "sha256:690c7b525f4367aa91f73e2f91c632206d32e97c6384bdbf2fb7a861b420340d",
)
GRAFANA_IMAGE = Image(
    "docker.io", "grafana/grafana", "13.2.0",
    "sha256:3fd54ae1214669f8355f065ec9f6445d5279a3d77095ab048ca045685272429b",
)
TEMPO_IMAGE = Image(
    "docker.io", "grafana/tempo", "2.10.8",
    "sha256:f0561deb1c68ec44d6e6e7e4487f30106c4e5e768642077695b37958b105812a",
)
# The contrib distribution: k8s_attributes, span_metrics and the prometheus exporter are not in core.
OTEL_COLLECTOR_IMAGE = Image(
    "docker.io", "otel/opentelemetry-collector-contrib", "0.158.0",
    "sha256:c5918f78992ee73b0d6f0e599423ac5ec52dd5d9726733114d6eca53d5a32ed5",
)
# DCGM 4.5.3 with exporter 4.8.2; DCGM 4 names the clock-throttle field DCGM_FI_DEV_CLOCKS_EVENT_REASONS.
DCGM_EXPORTER_IMAGE = Image(
    "nvcr.io", "nvidia/k8s/dcgm-exporter", "4.5.3-4.8.2-distroless",
    "sha256:60d3b00ac80b4ae77f94dae2f943685605585ad9e92fdccda3154d009ae317cc",
)

# The images the charts bring at these chart versions: their defaults, set in the values only to add the
# digest (and so listed in the README). Subcharts of kube-prometheus-stack 88.5.3: kube-state-metrics
# 8.4.0, prometheus-node-exporter 4.56.1 and grafana 12.11.1. The operator and its config reloader follow
# the chart's appVersion.
PROMETHEUS_OPERATOR_IMAGE = Image(
    "quay.io", "prometheus-operator/prometheus-operator", "v0.93.1",
    "sha256:e52bb28fd41c98dd407c7a8cba8bdcfe7eabd7447e250afaf1fe7bb816dedbff",
)
CONFIG_RELOADER_IMAGE = Image(
    "quay.io", "prometheus-operator/prometheus-config-reloader", "v0.93.1",
    "sha256:428f088fe6fe07ab138bda92113664b04848a1dc408e4d3680a60ecdb55d1a65",
)
# The admission webhook's certificate Job (a chart hook).
WEBHOOK_CERTGEN_IMAGE = Image("ghcr.io", "jkroepke/kube-webhook-certgen", "1.8.7")
KUBE_STATE_METRICS_IMAGE = Image(
    "registry.k8s.io", "kube-state-metrics/kube-state-metrics", "v2.20.0",
    "sha256:42cfe3723a5f058171c627537fb57a3ea0f26e4380fa18555a95cb1a1b4cfc5b",
)
# The distroless variant: kube-prometheus-stack sets the subchart's image.distroless.
NODE_EXPORTER_IMAGE = Image(
    "quay.io", "prometheus/node-exporter", "v1.12.1-distroless",
    "sha256:8c9bac11973b94b59be88d6e11fee4429aa743c8846cdc75d65b18db33f6a106",
)
# Grafana's dashboard and datasource sidecars.
GRAFANA_SIDECAR_IMAGE = Image("quay.io", "kiwigrid/k8s-sidecar", "2.10.1")

PLATFORM_CHARTS = (
    PROMETHEUS_OPERATOR_CRDS,
    KUBE_PROMETHEUS_STACK,
    TEMPO,
    OPENTELEMETRY_COLLECTOR,
    DCGM_EXPORTER,
)
PLATFORM_IMAGES = (
    PROMETHEUS_IMAGE,
    ALERTMANAGER_IMAGE,
    GRAFANA_IMAGE,
    TEMPO_IMAGE,
    OTEL_COLLECTOR_IMAGE,
    DCGM_EXPORTER_IMAGE,
)

# --- The cluster ----------------------------------------------------------------------------------------
# NVIDIA device plugin for EKS GPU nodes (MiniKube brings its own addon; an existing cluster has one).
NVIDIA_DEVICE_PLUGIN = HelmChart("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.19.0")
# Its image: the chart's default (v + appVersion), set in the values so the policy pack sees it.
DEVICE_PLUGIN_IMAGE = Image("nvcr.io", "nvidia/k8s-device-plugin", "v0.19.0")
CLUSTER_CHARTS = (NVIDIA_DEVICE_PLUGIN,)

# --- AI workloads (namespace llm) ---------------------------------------------------------------------
# vLLM: the model server image AND the metric catalogue the dashboards are written against
# (tests/reference/metrics/vllm.txt and vllm-envs.txt are read from this exact release). Change both
# together: scripts/refresh-reference.py regenerates tests/reference/ from the pins here.
VLLM_IMAGE = Image("docker.io", "vllm/vllm-openai", "v0.33.0")
# llm-d's model-server chart (Deployment per role, tracing wiring, pvc+hf model cache). The Helm repo is
# the one its README installs from; the server images are ours (VLLM_IMAGE, LLM_D_INFERENCE_SIM_IMAGE).
LLM_D_MODELSERVICE = HelmChart(
    "llm-d-modelservice", "https://llm-d-incubation.github.io/llm-d-modelservice/", "v0.4.12"
)
# llm-d's vLLM simulator for the no-GPU mode: vLLM's OpenAI API and a subset of its metrics, on a CPU.
LLM_D_INFERENCE_SIM_IMAGE = Image(
    "ghcr.io", "llm-d/llm-d-inference-sim", "v0.10.2",
    "sha256:7f3a1f72875c5dd5d00299ad358dc1f6e17041a5124609a43aa17ad318bbed32",
)
# Llama Stack: the 0.7 line is the last before the OGX rename; its telemetry is plain OTLP (OTEL_* env).
LLAMA_STACK_IMAGE = Image("docker.io", "llamastack/distribution-starter", "0.7.3")
# The workload Job: a stock Python image plus the pinned client and the OpenTelemetry SDK it instruments
# itself with (same pins as requirements-dev.txt; the SDK at the version the Pulumi SDK brings there).
WORKLOAD_PYTHON_IMAGE = Image(
    "docker.io", "library/python", "3.12.10-slim",
    "sha256:fd95fa221297a88e1cf49c55ec1828edd7c5a428187e67b5d1805692d11588db",
)
WORKLOAD_PACKAGES = (
    Pin("llama-stack-client", "0.7.5"),
    Pin("httpx", "0.28.1"),
    Pin("opentelemetry-sdk", "1.45.2"),
    Pin("opentelemetry-exporter-otlp-proto-http", "1.45.2"),
    # The judge sampler decodes OTLP itself (workload/sampler.py).
    Pin("opentelemetry-proto", "1.45.2"),
)
# llm-d's router (EPP) for the optional router=true, published only as an OCI chart. The chart and the
# EPP image are released together under one tag; v0.10.0 is the version whose llm_d_epp_* metric
# catalogue the dashboards use. Only the EPP's tag (with its digest) is set in the values (the chart's
# registry and repository are kept), so the tag must equal the chart's version.
LLM_D_ROUTER = HelmChart(
    "llm-d-router-standalone", "oci://ghcr.io/llm-d/charts", "v0.10.0", app_version="v0.10.0"
)
LLM_D_EPP_IMAGE = Image(
    "ghcr.io", "llm-d/llm-d-router-endpoint-picker", LLM_D_ROUTER.app_version,
    "sha256:2e516fa1310da7be59b82beb1445362139597d6d553ef04d546716abe3aaaa70",
)
# The router chart's Envoy sidecar (its envoy proxy preset at v0.10.0), set in the values as the preset has it.
ENVOY_PROXY_IMAGE = Image("docker.io", "envoyproxy/envoy", "distroless-v1.33.2")
WORKLOAD_CHARTS = (LLM_D_MODELSERVICE, LLM_D_ROUTER)
WORKLOAD_IMAGES = (
    VLLM_IMAGE,
    LLM_D_INFERENCE_SIM_IMAGE,
    LLAMA_STACK_IMAGE,
    WORKLOAD_PYTHON_IMAGE,
    LLM_D_EPP_IMAGE,
)

# The charts' own images (their defaults at the pinned chart versions), listed so the README shows
# everything that runs.
CHART_DEFAULT_IMAGES = (
    PROMETHEUS_OPERATOR_IMAGE,
    CONFIG_RELOADER_IMAGE,
    WEBHOOK_CERTGEN_IMAGE,
    KUBE_STATE_METRICS_IMAGE,
    NODE_EXPORTER_IMAGE,
    GRAFANA_SIDECAR_IMAGE,
    ENVOY_PROXY_IMAGE,
    DEVICE_PLUGIN_IMAGE,
)

# Everything, for the README's tables and the pin checks.
HELM_CHARTS = (*CLUSTER_CHARTS, *PLATFORM_CHARTS, *WORKLOAD_CHARTS)
IMAGES = (*PLATFORM_IMAGES, *WORKLOAD_IMAGES)

# The images pinned by tag only, and why: for each, no digest of that exact tag is corroborated by two
# independent public pins (tests/reference/image-digests.txt), and a neighbouring tag that has one is not
# a safe bump. A digest is never guessed: a wrong one stops the pull. `scripts/verify-image-digests.py
# --print` gives the digest from the registry; adding it here takes the image off this list (the tests
# and the policy pack's own copy of this list, policy/guardrails.py, require both edits).
DIGEST_EXCEPTIONS: dict[Image, str] = {
    VLLM_IMAGE: "no public pin of v0.33.0 by digest; another vLLM release changes the metric catalogue",
    LLAMA_STACK_IMAGE: "no public pin of 0.7.3 by digest; another release changes the env and metric facts",
    WEBHOOK_CERTGEN_IMAGE: "no public pin of 1.8.7 by digest; 1.8.8 has one source only, and is not the chart's",
    GRAFANA_SIDECAR_IMAGE: "one public pin of 2.10.1 by digest only, from a single-platform lock",
    ENVOY_PROXY_IMAGE: "one repository only names distroless-v1.33.2 with a digest",
    DEVICE_PLUGIN_IMAGE: "no public pin of v0.19.0 by digest (EKS only)",
}
