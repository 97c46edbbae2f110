"""Llama Stack 0.7: an agent/RAG server in front of the model servers, configured as code, traced over OTLP.

Llama Stack 0.7 has no telemetry provider any more: its container runs the server under OpenTelemetry
auto-instrumentation as soon as any OTEL_* variable is set, and its own ``llama_stack.*`` metrics go to
``$OTEL_EXPORTER_OTLP_ENDPOINT/v1/metrics`` over OTLP/HTTP. (TELEMETRY_SINKS is gone; setting it does
nothing.) So the whole telemetry setup is the standard environment below.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.children import child_options
from components.model_serving import api_key_env
from components.pod_security import HARDENED_CONTAINER, NO_API_TOKEN
from stack.versions import Image

NAME = "llama-stack"
# Not "llama-stack": service links would give every pod of the namespace LLAMA_STACK_PORT=tcp://...,
# which `llama stack run` parses as the port number.
SERVICE_NAME = "llamastack"
PORT = 8321
POD_LABELS = {"app.kubernetes.io/name": NAME}
CONFIG_DIR = "/etc/llama-stack"
STATE_DIR = "/var/lib/llama-stack"
SHIELD_ID = "llama-guard"
VECTOR_PROVIDER = "sqlite-vec"
EMBEDDING_PROVIDER = "sentence-transformers"
INFERENCE_PROVIDER = "vllm"
# The model servers' API key reaches the run config through this variable (the name Llama Stack's own
# distributions use for remote::vllm's api_token), filled from the model servers' Secret.
API_TOKEN_ENV = "VLLM_API_TOKEN"


def registered_model_id(served_model: str) -> str:
    """The id Llama Stack 0.7 registers a served model under: ``<provider_id>/<provider_model_id>``.

    (core/routing_tables/models.py, register_model; the config's ``model_id`` is no alias.) Clients of
    Llama Stack, and the shield that asks the model, must use this id; vLLM itself knows only the served name.
    """
    return f"{INFERENCE_PROVIDER}/{served_model}"


@dataclass(frozen=True)
class LlamaStackArgs:
    namespace: str
    image: Image
    stack: str
    # The model servers' OpenAI-compatible base URL (…/v1).
    inference_url: str
    model_id: str
    max_tokens: int
    embedding_model: str
    embedding_dimension: int
    safety_shield: bool
    # OTLP over HTTP (the collector's :4318), as Llama Stack's own metric exporter requires.
    otlp_http_endpoint: str
    trace_content: bool
    # Where the pod runs: the nodes without GPUs, where the cluster has them.
    node_selector: Mapping[str, str] = field(default_factory=dict)


def run_config(args: LlamaStackArgs) -> dict[str, Any]:
    """The server's run config: vLLM inference, CPU embeddings, sqlite-vec, file search, llama-guard."""
    kv = {"backend": "kv_default"}
    sql = {"backend": "sql_default"}
    model_id = registered_model_id(args.model_id)
    shields = (
        # llama-guard's prompt, answered by the served model (an ungated stand-in for a Llama Guard model).
        [{"shield_id": SHIELD_ID, "provider_id": "llama-guard", "provider_shield_id": model_id}]
        if args.safety_shield
        else []
    )
    return {
        "version": 2,
        "distro_name": "llm-observability",
        "apis": ["files", "file_processors", "inference", "responses", "safety", "tool_runtime", "vector_io"],
        "providers": {
            "inference": [
                {
                    "provider_id": INFERENCE_PROVIDER,
                    "provider_type": "remote::vllm",
                    "config": {
                        "base_url": args.inference_url,
                        "max_tokens": args.max_tokens,
                        # No default: a missing key stops the server at start, not at the first request.
                        "api_token": f"${{env.{API_TOKEN_ENV}}}",
                    },
                },
                {
                    "provider_id": EMBEDDING_PROVIDER,
                    "provider_type": "inline::sentence-transformers",
                    "config": {"trust_remote_code": False},
                },
            ],
            "vector_io": [
                {
                    "provider_id": VECTOR_PROVIDER,
                    "provider_type": "inline::sqlite-vec",
                    "config": {
                        "db_path": f"{STATE_DIR}/sqlite_vec.db",
                        "persistence": {"namespace": "vector_io::sqlite_vec", **kv},
                    },
                }
            ],
            "files": [
                {
                    "provider_id": "builtin-files",
                    "provider_type": "inline::localfs",
                    "config": {
                        "storage_dir": f"{STATE_DIR}/files",
                        "metadata_store": {"table_name": "files_metadata", **sql},
                    },
                }
            ],
            "file_processors": [{"provider_id": "pypdf", "provider_type": "inline::pypdf"}],
            "safety": [
                {"provider_id": "llama-guard", "provider_type": "inline::llama-guard", "config": {"excluded_categories": []}}
            ],
            "responses": [
                {
                    "provider_id": "builtin",
                    "provider_type": "inline::builtin",
                    "config": {
                        "persistence": {
                            "agent_state": {"namespace": "agents", **kv},
                            "responses": {"table_name": "responses", **sql},
                        }
                    },
                }
            ],
            "tool_runtime": [{"provider_id": "file-search", "provider_type": "inline::file-search"}],
        },
        "storage": {
            "backends": {
                "kv_default": {"type": "kv_sqlite", "db_path": f"{STATE_DIR}/kvstore.db"},
                "sql_default": {"type": "sql_sqlite", "db_path": f"{STATE_DIR}/sql_store.db"},
            },
            "stores": {
                "metadata": {"namespace": "registry", **kv},
                "inference": {"table_name": "inference_store", **sql},
                "conversations": {"table_name": "openai_conversations", **sql},
                "prompts": {"namespace": "prompts", **kv},
            },
        },
        "registered_resources": {
            "models": [
                {
                    "model_id": model_id,
                    "provider_id": INFERENCE_PROVIDER,
                    "provider_model_id": args.model_id,
                    "model_type": "llm",
                },
                {
                    "model_id": args.embedding_model,
                    "provider_id": EMBEDDING_PROVIDER,
                    "provider_model_id": args.embedding_model,
                    "model_type": "embedding",
                    "metadata": {"embedding_dimension": args.embedding_dimension},
                },
            ],
            "shields": shields,
        },
        "server": {"port": PORT},
        "vector_stores": {
            "default_provider_id": VECTOR_PROVIDER,
            "default_embedding_model": {"provider_id": EMBEDDING_PROVIDER, "model_id": args.embedding_model},
        },
        **({"safety": {"default_shield_id": SHIELD_ID}} if args.safety_shield else {}),
    }


def otel_environment(args: LlamaStackArgs) -> list[dict[str, str]]:
    """Standard OpenTelemetry variables: their presence alone turns on the image's auto-instrumentation."""
    return [
        {"name": "OTEL_SERVICE_NAME", "value": NAME},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": args.otlp_http_endpoint},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"},
        {"name": "OTEL_TRACES_EXPORTER", "value": "otlp"},
        {"name": "OTEL_METRICS_EXPORTER", "value": "otlp"},
        {"name": "OTEL_LOGS_EXPORTER", "value": "none"},
        {"name": "OTEL_METRIC_EXPORT_INTERVAL", "value": "15000"},
        {"name": "OTEL_TRACES_SAMPLER", "value": "parentbased_always_on"},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": f"deployment.environment.name={args.stack}"},
        # Kubelet probes would otherwise be most of the traces.
        {"name": "OTEL_PYTHON_EXCLUDED_URLS", "value": "v1/health"},
        # GenAI spans in the current semantic conventions; message content on them only when asked.
        {"name": "OTEL_SEMCONV_STABILITY_OPT_IN", "value": "gen_ai_latest_experimental"},
        {
            "name": "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "value": "SPAN_ONLY" if args.trace_content else "NO_CONTENT",
        },
    ]


class LlamaStack(pulumi.ComponentResource):
    """The Llama Stack server: ConfigMap with its run config, Deployment, ClusterIP Service."""

    endpoint: str
    # What clients name the served model in Llama Stack's APIs.
    model_id: str

    def __init__(self, name: str, args: LlamaStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:workloads:LlamaStack", name, None, opts)
        child = child_options(self, opts)
        labels = dict(POD_LABELS)
        config_text = yaml.safe_dump(run_config(args), sort_keys=False)
        config_map = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"name": f"{NAME}-config", "namespace": args.namespace, "labels": labels},
            data={"config.yaml": config_text},
            opts=child,
        )
        health = {"httpGet": {"path": "/v1/health", "port": "http"}}
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": NAME, "namespace": args.namespace, "labels": labels},
            spec={
                "replicas": 1,
                # State is local sqlite: never two writers.
                "strategy": {"type": "Recreate"},
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "llm-observability/config-sha": hashlib.sha256(config_text.encode()).hexdigest()[:16]
                        },
                    },
                    "spec": {
                        "nodeSelector": dict(args.node_selector),
                        # No other Service's variables in its environment (see SERVICE_NAME).
                        "enableServiceLinks": False,
                        **NO_API_TOKEN,
                        "containers": [
                            {
                                "name": NAME,
                                "image": args.image.reference,
                                "securityContext": HARDENED_CONTAINER,
                                "env": [
                                    {"name": "RUN_CONFIG_PATH", "value": f"{CONFIG_DIR}/config.yaml"},
                                    # What `llama stack run` listens on, said here rather than left to the
                                    # environment.
                                    {"name": "LLAMA_STACK_PORT", "value": str(PORT)},
                                    {"name": "HF_HOME", "value": f"{STATE_DIR}/huggingface"},
                                    api_key_env(API_TOKEN_ENV),
                                    *otel_environment(args),
                                ],
                                "ports": [{"name": "http", "containerPort": PORT}],
                                "resources": {
                                    "requests": {"cpu": "1", "memory": "2Gi"},
                                    "limits": {"memory": "6Gi"},
                                },
                                "startupProbe": {**health, "periodSeconds": 5, "failureThreshold": 120},
                                "readinessProbe": {**health, "periodSeconds": 10},
                                "volumeMounts": [
                                    {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                    {"name": "state", "mountPath": STATE_DIR},
                                ],
                            }
                        ],
                        "volumes": [
                            {"name": "config", "configMap": {"name": f"{NAME}-config"}},
                            # Vector store, files and conversations are demo state the workload recreates.
                            {"name": "state", "emptyDir": {"sizeLimit": "10Gi"}},
                        ],
                    },
                },
            },
            # Starts without waiting for the model servers: it reaches them only per request.
            opts=child_options(
                self, opts, depends_on=[config_map], custom_timeouts=pulumi.CustomTimeouts(create="20m")
            ),
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": SERVICE_NAME, "namespace": args.namespace, "labels": labels},
            spec={"type": "ClusterIP", "selector": labels, "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
            opts=child,
        )
        self.endpoint = f"http://{SERVICE_NAME}.{args.namespace}.svc.cluster.local:{PORT}"
        self.model_id = registered_model_id(args.model_id)
        self.register_outputs({"endpoint": self.endpoint, "modelId": self.model_id})
