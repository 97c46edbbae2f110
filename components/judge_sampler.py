"""The judge sampler (python -m workload.sampler) as a Deployment and a ClusterIP Service in the apps' namespace.

The collector sends it the GenAI chat spans that carry answer content (components/otel_collector.py
``judge_sampler_branch``), over OTLP/HTTP on PORT; it judges a share of them with the LLM judge and sends
the verdicts to the collector as metrics and spans. It runs the workload's package like the workload
Job does: the mounted source (its own ConfigMap, so it runs with or without the Job) on the stock Python
image, the pinned packages installed at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.children import child_options
from components.model_serving import api_key_env
from components.pod_security import NO_API_TOKEN, READ_ONLY_CONTAINER, SCRATCH_MOUNT, WORKLOAD_USER, scratch_volume
from components.workload_job import (
    MOUNT,
    RUNTIME_ENV,
    config_map_key,
    install_and_run,
    package_files,
    source_volume,
)
from stack.versions import Image

NAME = "judge-sampler"
# OTLP/HTTP's own port: the collector's exporter sends to it.
PORT = 4318
SOURCE_CONFIG_MAP = f"{NAME}-source"
LABELS = {"app.kubernetes.io/name": NAME}


def endpoint(namespace: str) -> str:
    """The base URL the collector's otlp_http exporter sends to (it adds /v1/traces)."""
    return f"http://{NAME}.{namespace}.svc.cluster.local:{PORT}"


@dataclass(frozen=True)
class JudgeSamplerArgs:
    namespace: str
    image: Image
    requirements: tuple[str, ...]
    # The share of the traced answers it judges (above 0: the component exists only when judging).
    judge_sample_share: float
    judge_url: str
    judge_model: str
    # True when the judge is the stack's own model servers: only then does it get their API key.
    judge_is_model_servers: bool
    # Where its verdicts go: the collector's OTLP/HTTP endpoint.
    otlp_http_endpoint: str
    node_selector: Mapping[str, str] = field(default_factory=dict)


class JudgeSampler(pulumi.ComponentResource):
    endpoint: str

    def __init__(self, name: str, args: JudgeSamplerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:workloads:JudgeSampler", name, None, opts)
        child = child_options(self, opts)
        files = package_files()
        source = k8s.core.v1.ConfigMap(
            f"{name}-source",
            metadata={"name": SOURCE_CONFIG_MAP, "namespace": args.namespace, "labels": LABELS},
            data={config_map_key(path): text for path, text in files.items()},
            opts=child,
        )
        environment = {
            "JUDGE_SAMPLE_SHARE": f"{args.judge_sample_share:g}",
            "JUDGE_URL": args.judge_url,
            "JUDGE_MODEL": args.judge_model,
            "SAMPLER_HOST": "0.0.0.0",
            "SAMPLER_PORT": str(PORT),
            "OTEL_EXPORTER_OTLP_ENDPOINT": args.otlp_http_endpoint,
            "OTEL_SERVICE_NAME": NAME,
            "OTEL_METRIC_EXPORT_INTERVAL": "15000",
            **RUNTIME_ENV,
        }
        health = {"httpGet": {"path": "/health", "port": "otlp-http"}}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": NAME, "namespace": args.namespace, "labels": LABELS},
            spec={
                "replicas": 1,
                "selector": {"matchLabels": LABELS},
                "template": {
                    "metadata": {"labels": LABELS},
                    "spec": {
                        "nodeSelector": dict(args.node_selector),
                        # Its settings are the variables below; no Service's variables are mixed in.
                        "enableServiceLinks": False,
                        # As the workload: nobody, a read-only root, the install in the /tmp scratch volume.
                        "securityContext": WORKLOAD_USER.pod_security_context(),
                        **NO_API_TOKEN,
                        "containers": [
                            {
                                "name": NAME,
                                "image": args.image.reference,
                                "command": install_and_run(args.requirements, "workload.sampler"),
                                "env": [
                                    *({"name": key, "value": value} for key, value in environment.items()),
                                    *([api_key_env("JUDGE_API_KEY")] if args.judge_is_model_servers else []),
                                ],
                                "ports": [{"name": "otlp-http", "containerPort": PORT, "protocol": "TCP"}],
                                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                              "limits": {"memory": "512Mi"}},
                                "securityContext": READ_ONLY_CONTAINER,
                                # The install at start takes a while; then the receiver answers at once.
                                "startupProbe": {**health, "periodSeconds": 5, "failureThreshold": 60},
                                "readinessProbe": {**health, "periodSeconds": 10},
                                "volumeMounts": [{"name": "source", "mountPath": MOUNT, "readOnly": True}, SCRATCH_MOUNT],
                            }
                        ],
                        "volumes": [source_volume(SOURCE_CONFIG_MAP, files), scratch_volume("1Gi")],
                    },
                },
            },
            opts=child_options(self, opts, depends_on=[source]),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": NAME, "namespace": args.namespace, "labels": LABELS},
            spec={"type": "ClusterIP", "selector": LABELS,
                  "ports": [{"name": "otlp-http", "port": PORT, "targetPort": "otlp-http", "protocol": "TCP"}]},
            opts=child,
        )
        self.endpoint = endpoint(args.namespace)
        self.register_outputs({"endpoint": self.endpoint})
