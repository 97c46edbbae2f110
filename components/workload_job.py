"""The workload (python -m workload) as a Kubernetes Job, or a CronJob on a schedule.

The package and its documents ship in a ConfigMap and run on a stock Python image with the pinned
client installed at start, so no image has to be built or pushed. The pod waits for Llama Stack and the
model servers itself, so nothing in the resource graph has to wait for them to be ready.

Mount layout: every file of `workload/` (hidden files and bytecode caches aside) appears at
`/opt/workload-src/<its path in the repository>`, e.g. `/opt/workload-src/workload/__main__.py`, and
PYTHONPATH holds `/opt/workload-src`. ConfigMap keys allow no '/', so each file has an escaped key
(`config_map_key`) and the volume's `items` give each key its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.children import child_options
from components.model_serving import api_key_env
from components.pod_security import (
    NO_API_TOKEN,
    READ_ONLY_CONTAINER,
    SCRATCH_MOUNT,
    SCRATCH_PATH,
    WORKLOAD_USER,
    scratch_volume,
)
from stack.versions import Image

PACKAGE = Path(__file__).resolve().parent.parent / "workload"
MOUNT = "/opt/workload-src"
# How long the pod waits for the servers (a first start pulls images and downloads weights).
WAIT_READY_SECONDS = 1800
SOURCE_CONFIG_MAP = "workload-source"
POD_LABELS = {"app.kubernetes.io/name": "workload"}


@dataclass(frozen=True)
class WorkloadJobArgs:
    namespace: str
    image: Image
    requirements: tuple[str, ...]
    llama_stack_url: str
    model_url: str
    # The served model's name at the model servers (load phase) and its id in Llama Stack (agent phase).
    model_id: str
    stack_model_id: str
    shield_id: str
    request_rate: float
    requests: int
    prompt_tokens: int
    output_tokens: int
    concurrency: int
    # Answer quality: the share of sessions asking known questions, and the judge (share 0: no judge).
    known_answer_share: float
    judge_sample_share: float
    judge_url: str
    judge_model: str
    # True when the judge is the stack's own model servers: only then does it get their API key.
    judge_is_model_servers: bool
    # OTLP/HTTP endpoint for the root span of each agent session.
    otlp_http_endpoint: str
    # Empty: one Job now. A cron schedule: a CronJob.
    schedule: str
    # Where the pod runs: the nodes without GPUs, where the cluster has them.
    node_selector: Mapping[str, str] = field(default_factory=dict)


def package_files() -> dict[str, str]:
    """Path under MOUNT -> file text, for every file of the package (hidden files and bytecode caches aside)."""
    paths = (path.relative_to(PACKAGE.parent) for path in PACKAGE.rglob("*") if path.is_file())
    shipped = sorted(p for p in paths if not any(part.startswith(".") or part == "__pycache__" for part in p.parts))
    return {path.as_posix(): (PACKAGE.parent / path).read_text() for path in shipped}


# What a pod running the mounted package on the stock image needs besides its own settings.
RUNTIME_ENV = {"PYTHONPATH": f"{SCRATCH_PATH}/deps:{MOUNT}", "HOME": SCRATCH_PATH, "PYTHONUNBUFFERED": "1"}


def install_and_run(requirements: tuple[str, ...], arguments: str) -> list[str]:
    """The container command: the pinned packages installed into /tmp/deps (the scratch volume, as the
    root file system is read-only), then ``python -m <arguments>``."""
    install = " ".join(
        ["pip install --quiet --no-cache-dir --disable-pip-version-check --target", f"{SCRATCH_PATH}/deps", *requirements]
    )
    return ["sh", "-c", f"{install} && exec python -m {arguments}"]


def source_volume(config_map: str, files: dict[str, str]) -> dict:
    """The volume that puts each file of the package at its path under MOUNT."""
    return {
        "name": "source",
        "configMap": {"name": config_map, "items": [{"key": config_map_key(path), "path": path} for path in files]},
    }


def config_map_key(path: str) -> str:
    """A ConfigMap key for a file path. Keys hold only [-._a-zA-Z0-9]: '/' and every other character
    outside [-.a-zA-Z0-9] become '_' and the hex of their UTF-8 bytes ('_' itself too), so two paths never
    share a key. Nothing decodes it: the volume's items map each key to its path."""
    return "".join(
        char if char.isascii() and (char.isalnum() or char in "-.") else "".join(f"_{byte:02x}" for byte in char.encode())
        for char in path
    )


class WorkloadJob(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkloadJobArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmobs:workloads:WorkloadJob", name, None, opts)
        child = child_options(self, opts)
        labels = dict(POD_LABELS)
        files = package_files()
        source = k8s.core.v1.ConfigMap(
            f"{name}-source",
            metadata={"name": SOURCE_CONFIG_MAP, "namespace": args.namespace, "labels": labels},
            data={config_map_key(path): text for path, text in files.items()},
            opts=child,
        )
        needs_source = child_options(self, opts, depends_on=[source])
        environment = {
            "LLAMA_STACK_URL": args.llama_stack_url,
            "MODEL_URL": args.model_url,
            "MODEL_ID": args.model_id,
            "STACK_MODEL_ID": args.stack_model_id,
            "SHIELD_ID": args.shield_id,
            "LOAD_REQUEST_RATE": f"{args.request_rate:g}",
            "LOAD_REQUESTS": str(args.requests),
            "LOAD_PROMPT_TOKENS": str(args.prompt_tokens),
            "LOAD_OUTPUT_TOKENS": str(args.output_tokens),
            "LOAD_CONCURRENCY": str(args.concurrency),
            "KNOWN_ANSWER_SHARE": f"{args.known_answer_share:g}",
            "JUDGE_SAMPLE_SHARE": f"{args.judge_sample_share:g}",
            "JUDGE_URL": args.judge_url,
            "JUDGE_MODEL": args.judge_model,
            "WAIT_READY_SECONDS": str(WAIT_READY_SECONDS),
            "OTEL_EXPORTER_OTLP_ENDPOINT": args.otlp_http_endpoint,
            "OTEL_SERVICE_NAME": "workload",
            **RUNTIME_ENV,
        }
        pod_spec = {
            "restartPolicy": "Never",
            "nodeSelector": dict(args.node_selector),
            # Its settings are the variables above; no Service's variables are mixed in.
            "enableServiceLinks": False,
            "securityContext": WORKLOAD_USER.pod_security_context(),
            **NO_API_TOKEN,
            "containers": [
                {
                    "name": "workload",
                    "image": args.image.reference,
                    "command": install_and_run(args.requirements, "workload all"),
                    "env": [
                        *({"name": key, "value": value} for key, value in environment.items()),
                        api_key_env("MODEL_API_KEY"),
                        *([api_key_env("JUDGE_API_KEY")] if args.judge_is_model_servers else []),
                    ],
                    "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
                    # Writes only to /tmp (tests/test_containers.py runs it so).
                    "securityContext": READ_ONLY_CONTAINER,
                    "volumeMounts": [{"name": "source", "mountPath": MOUNT, "readOnly": True}, SCRATCH_MOUNT],
                }
            ],
            # The pinned client and its dependencies, installed at start, in the scratch volume.
            "volumes": [source_volume(SOURCE_CONFIG_MAP, files), scratch_volume("1Gi")],
        }
        job_spec = {
            # A failed run is a finding to read, not something to repeat under load.
            "backoffLimit": 0,
            "activeDeadlineSeconds": WAIT_READY_SECONDS + 3600,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        }
        if args.schedule:
            k8s.batch.v1.CronJob(
                f"{name}-cronjob",
                metadata={"namespace": args.namespace, "labels": labels},
                spec={
                    "schedule": args.schedule,
                    "concurrencyPolicy": "Forbid",
                    "successfulJobsHistoryLimit": 3,
                    "failedJobsHistoryLimit": 3,
                    "jobTemplate": {"spec": job_spec},
                },
                opts=needs_source,
            )
        else:
            k8s.batch.v1.Job(
                f"{name}-job",
                metadata={
                    "namespace": args.namespace,
                    "labels": labels,
                    # `pulumi up` must not sit through the whole run; follow it with kubectl logs.
                    "annotations": {"pulumi.com/skipAwait": "true"},
                },
                spec=job_spec,
                opts=needs_source,
            )
        self.register_outputs({})
