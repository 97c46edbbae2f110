"""Grafana Tempo, single binary: OTLP in, traces on a persistent volume, metrics generator on.

The metrics generator turns the spans it receives into service-graph and span metrics and
remote-writes them to Prometheus (traces_service_graph_*, traces_spanmetrics_*); its local-blocks
processor serves TraceQL metrics, which Grafana's Traces Drilldown app queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi

from components.helm import placement, release, resources
from stack.versions import HelmChart, Image

RELEASE_NAME = "tempo"
SERVICE = "tempo"
QUERY_PORT = 3200
OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
# The chart mounts the persistent volume at /var/tempo; the generator's WAL and blocks live there too.
DATA_DIR = "/var/tempo"


@dataclass(frozen=True)
class TempoArgs:
    namespace: str
    chart: HelmChart
    image: Image
    retention: str
    volume_gib: int
    prometheus_remote_write_url: str
    # Storage class of the volume; None uses the cluster's default class.
    storage_class: str | None = None
    # prod: the claim (and so the data) outlives the StatefulSet.
    keep_claims: bool = False
    # Where the pod runs (the system nodes, where the cluster has them).
    node_selector: Mapping[str, str] = field(default_factory=dict)
    # The prometheus-operator CRDs (the chart's ServiceMonitor) and the namespace.
    depends_on: Sequence[pulumi.Resource] = ()


def tempo_values(args: TempoArgs) -> dict[str, Any]:
    return {
        "fullnameOverride": SERVICE,
        "tempo": {
            "registry": args.image.registry,
            "repository": args.image.repository,
            # The chart joins `registry/repository:tag` and has no digest key (templates/statefulset.yaml
            # at 2.2.4; its version label strips "@sha..."), so the digest rides in the tag.
            "tag": args.image.tag_with_digest,
            "resources": resources("250m", "1Gi", "1", "2Gi"),
            "retention": args.retention,
            "reportingEnabled": False,
            # Streaming search and TraceQL metrics over HTTP, as Grafana's Traces Drilldown uses them.
            "streamOverHttpEnabled": True,
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                        "http": {"endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}"},
                    }
                }
            },
            "metricsGenerator": {
                "enabled": True,
                "remoteWriteUrl": args.prometheus_remote_write_url,
                "registry": {"external_labels": {"source": "tempo"}, "collection_interval": "15s"},
                "processor": {"local_blocks": {"flush_to_storage": True}},
                "storage": {
                    "path": f"{DATA_DIR}/generator/wal",
                    "remote_write": [{"url": args.prometheus_remote_write_url, "send_exemplars": True}],
                },
                "traces_storage": {"path": f"{DATA_DIR}/generator/traces"},
            },
            "overrides": {
                "defaults": {
                    "metrics_generator": {"processors": ["service-graphs", "span-metrics", "local-blocks"]}
                }
            },
        },
        "persistence": {
            "enabled": True,
            "size": f"{args.volume_gib}Gi",
            "accessModes": ["ReadWriteOnce"],
            # The StatefulSet's claim goes with it, not left behind as a billed cloud volume; in prod
            # (keepData) it stays, with the traces.
            "enableStatefulSetAutoDeletePVC": not args.keep_claims,
            **({"storageClassName": args.storage_class} if args.storage_class else {}),
        },
        **placement(args.node_selector),
        "service": {"type": "ClusterIP"},
        # Scraped as job="tempo" (the Service's name).
        "serviceMonitor": {"enabled": True, "interval": "30s"},
    }


def query_url(namespace: str) -> str:
    """Tempo's HTTP API (search, TraceQL), the Grafana datasource URL."""
    return f"http://{SERVICE}.{namespace}.svc.cluster.local:{QUERY_PORT}"


class Tempo(pulumi.ComponentResource):
    service: str
    otlp_grpc_endpoint: str
    otlp_http_endpoint: str
    query_url: str

    def __init__(self, name: str, args: TempoArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:monitoring:Tempo", name, None, opts)
        host = f"{SERVICE}.{args.namespace}.svc.cluster.local"
        tempo = release(
            f"{name}-release", args.chart, RELEASE_NAME, args.namespace, tempo_values(args),
            parent=self, depends_on=args.depends_on,
        )
        self.service = SERVICE
        self.otlp_grpc_endpoint = f"{host}:{OTLP_GRPC_PORT}"
        self.otlp_http_endpoint = f"http://{host}:{OTLP_HTTP_PORT}"
        self.query_url = query_url(args.namespace)
        self.register_outputs({"status": tempo.status})
