"""Optional: llm-d's inference scheduler (the Endpoint Picker, EPP) in front of the model servers.

Standalone mode of llm-d-router: an Envoy sidecar takes the OpenAI traffic and asks the EPP which
model server pod should answer, scoring pods by queue depth, KV-cache use and prefix-cache affinity
(it scrapes their vLLM metrics itself). No Gateway API and no InferencePool CRDs are needed: the EPP
finds the pods by label. Its own metrics (llm_d_epp_*) are scraped as job="llm-d-epp".

The chart (v0.10.0, routerlib templates) has no enableServiceLinks setting, so its pods get the other
Services' link variables (MODEL_SERVER_*, LLAMASTACK_*, ROUTER_EPP_*); the EPP reads none of those names
(its os.Getenv/env.GetEnv* calls at that tag), and Envoy reads no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.children import child_options
from components.helm import chart_source
from stack.versions import HelmChart, Image

RELEASE = "router"
# The chart names everything "<release>-epp".
SERVICE = f"{RELEASE}-epp"
PROXY_PORT = 8081
METRICS_PORT_NAME = "http-metrics"
SCRAPE_JOB = "llm-d-epp"
# The labels of the EPP's pods (the Envoy sidecar's too) in standalone mode (inferencePool.create false):
# routerlib's llm-d-router.selectorLabels and modeLabels (config/charts/routerlib/templates/_helpers.tpl
# and _deployment.yaml, llm-d-router v0.10.0), with llm-d-router.name "<release>-epp".
EPP_POD_LABELS = {"llm-d-router-standalone": SERVICE, "llm-d.ai/igw-mode": "llm-d-router-standalone"}


@dataclass(frozen=True)
class InferenceRouterArgs:
    namespace: str
    chart: HelmChart
    # Only the tag (with the digest) is set: the chart keeps its registry and repository for the EPP.
    epp_image: Image
    # The Envoy sidecar, replacing the chart's envoy preset image.
    proxy_image: Image
    # Labels of the model server pods the EPP chooses among, and the port they serve on.
    model_server_labels: Mapping[str, str]
    model_server_port: int
    otlp_traces_endpoint: str
    monitoring_depends_on: Sequence[pulumi.Resource] = field(default_factory=tuple)


def chart_values(args: InferenceRouterArgs) -> dict[str, Any]:
    return {
        "router": {
            "modelServers": {
                "type": "vllm",
                "matchLabels": dict(args.model_server_labels),
                "targetPorts": [{"number": args.model_server_port}],
            },
            # Standalone: the EPP selects pods by label (--endpoint-selector), no InferencePool CRD.
            "inferencePool": {"create": False},
            "proxy": {
                "enabled": True,
                "proxyType": "envoy",
                "mode": "sidecar",
                "image": args.proxy_image.reference,
                "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
            },
            "epp": {
                # The template joins `registry/repository:tag` (routerlib templates/_deployment.yaml at
                # v0.10.0) with no digest key, so the digest rides in the tag.
                "image": {"tag": args.epp_image.tag_with_digest, "pullPolicy": "IfNotPresent"},
                # The chart's defaults (8 CPUs, 8 GiB) are sized for large fleets, not one node.
                "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "4Gi"}},
            },
            # Our ServiceMonitor below sets job="llm-d-epp"; metrics stay inside the cluster, unauthenticated.
            "monitoring": {"prometheus": {"enabled": False, "auth": {"enabled": False}}},
            "tracing": {
                "enabled": True,
                "otelExporterEndpoint": args.otlp_traces_endpoint,
                "sampling": {"sampler": "parentbased_traceidratio", "samplerArg": "1.0"},
            },
        }
    }


class InferenceRouter(pulumi.ComponentResource):
    """llm-d-router-standalone (EPP + Envoy) and the ServiceMonitor for the EPP's metrics."""

    endpoint: str

    def __init__(self, name: str, args: InferenceRouterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:workloads:InferenceRouter", name, None, opts)
        k8s.helm.v3.Release(
            f"{name}-router",
            name=RELEASE,
            namespace=args.namespace,
            **chart_source(args.chart),
            values=chart_values(args),
            opts=child_options(self, opts),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": SERVICE, "namespace": args.namespace},
            spec={
                "selector": {"matchLabels": {"app.kubernetes.io/name": SERVICE}},
                "endpoints": [
                    {
                        "port": METRICS_PORT_NAME,
                        "path": "/metrics",
                        "interval": "15s",
                        "relabelings": [{"targetLabel": "job", "replacement": SCRAPE_JOB, "action": "replace"}],
                    }
                ],
            },
            opts=child_options(self, opts, depends_on=args.monitoring_depends_on),
        )
        self.endpoint = f"http://{SERVICE}.{args.namespace}.svc.cluster.local:{PROXY_PORT}/v1"
        self.register_outputs({"endpoint": self.endpoint})
