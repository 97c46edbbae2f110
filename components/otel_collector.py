"""The OpenTelemetry Collector (contrib, one Deployment): the OTLP front door for traces and metrics.

traces:  otlp -> memory_limiter, k8s_attributes, batch -> Tempo (OTLP gRPC) and the span_metrics connector
metrics: otlp + span_metrics -> memory_limiter, k8s_attributes, batch -> prometheus exporter (scraped)
traces/judge_sampler (when the judge samples other apps' answers):
         otlp -> memory_limiter, filter/judge_sampler, k8s_attributes, batch -> the judge sampler (OTLP/HTTP)

The chart merges `config` into its own defaults (Jaeger, Zipkin, a debug exporter, ...) and Pulumi's
Helm Release cannot pass the `null`s Helm needs to remove a default key (pulumi-kubernetes#2034,
#3811), so the whole configuration goes in `alternateConfig`, which the chart uses as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi

from components.helm import placement, release, resources
from components.pod_security import HARDENED_CONTAINER, OTEL_COLLECTOR_USER
from stack.versions import HelmChart, Image
from workload import trace_tags

RELEASE_NAME = "otel-collector"
SERVICE = "otel-collector"
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# The collector's own telemetry (otelcol_*), scraped as job="otel-collector".
TELEMETRY_PORT = 8888
# What the prometheus exporter serves: OTLP-received metrics and span metrics, job = service.name.
EXPORTER_PORT = 8889
EXPORTER_PORT_NAME = "app-metrics"
HEALTH_PORT = 13133
# The chart's default receivers this configuration does not use: their ports stay closed.
UNUSED_DEFAULT_PORTS = ("jaeger-compact", "jaeger-thrift", "jaeger-grpc", "zipkin")
# Latency buckets of the span metrics, from a fast tool call to a long generation.
SPAN_DURATION_BUCKETS = (
    "5ms", "10ms", "25ms", "50ms", "100ms", "250ms", "500ms", "1s", "2500ms", "5s", "10s", "30s", "60s", "120s",
)
# What k8s_attributes reads from the API server: pods and namespaces, and the ReplicaSets behind
# Deployments (for k8s.deployment.name).
K8S_ATTRIBUTES_RULES = (
    {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["replicasets", "deployments"], "verbs": ["get", "list", "watch"]},
)
# What the judge sampler gets, in the filter processor's OTTL (span context; a span is dropped when any
# condition holds): only the GenAI chat spans that carry the messages (Llama Stack 0.7.3's `chat <model>`
# spans with OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY), and none of the stack's own
# traffic, which carries its tag in the trace state (workload/trace_tags.py): the workload judges its own
# answers, and a judge's calls are no answers. A missing key in the trace state reads as "". Nor a shield's
# model call: Llama Guard's verdict on someone's message is no answer (its prompt's first words are
# PROMPT_TASK of llama_stack/providers/inline/safety/llama_guard/llama_guard.py, 0.7.3).
JUDGE_SAMPLER_DROPS = (
    'attributes["gen_ai.operation.name"] != "chat"',
    'attributes["gen_ai.input.messages"] == nil',
    'attributes["gen_ai.output.messages"] == nil',
    'IsMatch(attributes["gen_ai.input.messages"], "Task: Check if there is unsafe content in ")',
    f'trace_state["{trace_tags.KEY}"] == "{trace_tags.WORKLOAD}"',
    f'trace_state["{trace_tags.KEY}"] == "{trace_tags.JUDGE}"',
)
JUDGE_SAMPLER_FILTER = "filter/judge_sampler"
JUDGE_SAMPLER_EXPORTER = "otlp_http/judge_sampler"
JUDGE_SAMPLER_PIPELINE = "traces/judge_sampler"


@dataclass(frozen=True)
class OtelCollectorArgs:
    namespace: str
    chart: HelmChart
    image: Image
    tempo_otlp_grpc_endpoint: str
    # Span attributes the span metrics carry as labels, beyond service, span name, kind and status.
    span_dimensions: tuple[str, ...] = ()
    # The judge sampler's OTLP/HTTP base URL when it runs (traceContent on, judgeSampleShare above 0).
    judge_sampler_endpoint: str | None = None
    # Where the pod runs (the system nodes, where the cluster has them).
    node_selector: Mapping[str, str] = field(default_factory=dict)
    # The prometheus-operator CRDs (the chart's ServiceMonitor) and the namespace.
    depends_on: Sequence[pulumi.Resource] = ()


def collector_config(tempo_otlp_grpc_endpoint: str, span_dimensions: tuple[str, ...],
                     judge_sampler_endpoint: str | None = None) -> dict[str, Any]:
    """The collector's configuration, complete (it is not merged with the chart's defaults)."""
    pod_ip = "${env:MY_POD_IP}"
    config: dict[str, Any] = {
        "extensions": {"health_check": {"endpoint": f"{pod_ip}:{HEALTH_PORT}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{pod_ip}:{OTLP_GRPC_PORT}"},
                    "http": {"endpoint": f"{pod_ip}:{OTLP_HTTP_PORT}"},
                }
            }
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
            "k8s_attributes": {
                "auth_type": "serviceAccount",
                "passthrough": False,
                "extract": {
                    "metadata": [
                        "k8s.namespace.name",
                        "k8s.pod.name",
                        "k8s.pod.uid",
                        "k8s.deployment.name",
                        "k8s.node.name",
                    ]
                },
                "pod_association": [
                    {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
                    {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
                    {"sources": [{"from": "connection"}]},
                ],
            },
            "batch": {"send_batch_size": 1024, "timeout": "2s"},
        },
        "connectors": {
            "span_metrics": {
                # traces_span_metrics_calls_total and traces_span_metrics_duration_seconds_* once exported.
                "namespace": "traces.span.metrics",
                "histogram": {"unit": "s", "explicit": {"buckets": list(SPAN_DURATION_BUCKETS)}},
                "exemplars": {"enabled": True},
                "dimensions": [{"name": name} for name in span_dimensions],
                "metrics_flush_interval": "15s",
            }
        },
        "exporters": {
            "otlp_grpc/tempo": {"endpoint": tempo_otlp_grpc_endpoint, "tls": {"insecure": True}},
            "prometheus": {
                "endpoint": f"{pod_ip}:{EXPORTER_PORT}",
                # OpenMetrics carries the exemplars (trace ids) to Prometheus.
                "enable_open_metrics": True,
                "metric_expiration": "10m",
            },
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {
                "metrics": {
                    "readers": [
                        {"pull": {"exporter": {"prometheus": {"host": pod_ip, "port": TELEMETRY_PORT}}}}
                    ]
                }
            },
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "k8s_attributes", "batch"],
                    "exporters": ["otlp_grpc/tempo", "span_metrics"],
                },
                "metrics": {
                    "receivers": ["otlp", "span_metrics"],
                    "processors": ["memory_limiter", "k8s_attributes", "batch"],
                    "exporters": ["prometheus"],
                },
            },
        },
    }
    if judge_sampler_endpoint:
        judge_sampler_branch(config, judge_sampler_endpoint)
    return config


def judge_sampler_branch(config: dict[str, Any], endpoint: str) -> None:
    """A second traces pipeline from the same receiver: the filter, then the judge sampler (OTLP/HTTP)."""
    config["processors"][JUDGE_SAMPLER_FILTER] = {
        # A condition that cannot be evaluated on a span is skipped for it, not a reason to drop the batch.
        "error_mode": "ignore",
        "traces": {"span": list(JUDGE_SAMPLER_DROPS)},
    }
    config["exporters"][JUDGE_SAMPLER_EXPORTER] = {"endpoint": endpoint}
    config["service"]["pipelines"][JUDGE_SAMPLER_PIPELINE] = {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", JUDGE_SAMPLER_FILTER, "k8s_attributes", "batch"],
        "exporters": [JUDGE_SAMPLER_EXPORTER],
    }


def collector_values(args: OtelCollectorArgs) -> dict[str, Any]:
    ports: dict[str, Any] = {name: {"enabled": False} for name in UNUSED_DEFAULT_PORTS}
    ports["metrics"] = {"enabled": True, "containerPort": TELEMETRY_PORT, "servicePort": TELEMETRY_PORT, "protocol": "TCP"}
    ports[EXPORTER_PORT_NAME] = {
        "enabled": True,
        "containerPort": EXPORTER_PORT,
        "servicePort": EXPORTER_PORT,
        "protocol": "TCP",
    }
    return {
        "mode": "deployment",
        "fullnameOverride": SERVICE,
        # With a digest the chart pulls `repository@digest` (templates/_pod.tpl, chart 0.170.0); the tag
        # still names the version the chart's templates compare against.
        "image": {"repository": args.image.name, "tag": args.image.tag, "digest": args.image.digest},
        "alternateConfig": collector_config(args.tempo_otlp_grpc_endpoint, args.span_dimensions,
                                            args.judge_sampler_endpoint),
        "clusterRole": {"create": True, "rules": [dict(rule) for rule in K8S_ATTRIBUTES_RULES]},
        "ports": ports,
        "resources": resources("200m", "256Mi", "1", "512Mi"),
        # The chart sets neither by default; the image's own user, said so the kubelet checks it.
        "podSecurityContext": OTEL_COLLECTOR_USER.pod_security_context(),
        "securityContext": HARDENED_CONTAINER,
        **placement(args.node_selector),
        "service": {"type": "ClusterIP"},
        "serviceMonitor": {
            "enabled": True,
            "metricsEndpoints": [
                # Own telemetry: job is the Service's name, otel-collector.
                {"port": "metrics", "interval": "30s"},
                # Application and span metrics keep the job/instance the exporter derives from
                # service.name / service.instance.id.
                {"port": EXPORTER_PORT_NAME, "interval": "15s", "honorLabels": True},
            ],
        },
    }


class OtelCollector(pulumi.ComponentResource):
    service: str
    otlp_grpc_endpoint: str
    otlp_http_endpoint: str

    def __init__(self, name: str, args: OtelCollectorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:monitoring:OtelCollector", name, None, opts)
        collector = release(
            f"{name}-release", args.chart, RELEASE_NAME, args.namespace, collector_values(args),
            parent=self, depends_on=args.depends_on,
        )
        host = f"{SERVICE}.{args.namespace}.svc.cluster.local"
        self.service = SERVICE
        self.otlp_grpc_endpoint = f"{host}:{OTLP_GRPC_PORT}"
        self.otlp_http_endpoint = f"http://{host}:{OTLP_HTTP_PORT}"
        self.register_outputs({"status": collector.status})
