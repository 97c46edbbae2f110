"""What every pod the stack declares gives up, and the non-root user each image runs as.

None of the program's own pods talks to the Kubernetes API, so none gets a service account token; no
container may gain privileges, keeps a Linux capability, or runs without the runtime's default seccomp
profile; and every pod runs as a fixed non-root user and group (``runAsNonRoot`` with numeric ids, so
the kubelet refuses a root start and Pod Security's restricted level is met). ``fsGroup`` is that group:
the kubelet gives it the volumes that support ownership (emptyDir, EBS through the CSI driver), and
MiniKube's hostpath provisioner creates its directories 0777, so the weight cache and state are writable
on both. (MiniKube applies no fsGroup to hostpath volumes, so a cache claim filled by an earlier stack
that ran vLLM as root is handed to vLLM's user by a host step: components/scripts/own-claims.sh.)

What each image does, read from its build file at the pinned version (facts, not assumptions):

| image (pinned) | user in the image | writes | runs here as |
|---|---|---|---|
| llamastack/distribution-starter 0.7.3 | none: ``containers/Containerfile`` has no USER (at v0.7.1, the newest 0.7 tag of the repository snapshot read, and on main after 0.7.3), so root; it makes ``/.llama`` and ``/.cache`` group-0 writable for arbitrary uids and pre-caches tiktoken in ``TIKTOKEN_CACHE_DIR=/.cache/tiktoken``; ``PYTHONDONTWRITEBYTECODE=1`` | ``~/.llama`` (``core/utils/config_dirs.py``), the run config's sqlite files, ``HF_HOME``, temporary files | 1001:1001, read-only root; HOME=/tmp, an emptyDir, and the state its own emptyDir |
| vllm/vllm-openai v0.33.0 | root by default, but ``docker/Dockerfile`` (sdist) creates user ``vllm`` (uid 2000, gid 0) with HOME ``/home/vllm`` (owned 2000, ``.cache`` and ``.config`` in it) for non-root runs; the entrypoint is ``vllm serve`` | ``HF_HUB_CACHE`` (the chart points it at the claim), ``$HOME/.cache`` (vLLM, torch compile, Triton, FlashInfer, Outlines), ``/tmp``, ``/dev/shm`` | 2000:2000, HOME=/home/vllm; the GPUs' device nodes are 0666 (the NVIDIA driver's default file mode), so no group is needed |
| llm-d/llm-d-inference-sim v0.10.2 | ``Dockerfile``: distroless ``static:nonroot``, ``USER 65532:65532`` | nothing with our flags (only the dataset downloader writes) | 65532:65532 |
| library/python 3.12.10-slim (workload, judge) | root; ``nobody`` (65534) in ``/etc/passwd`` | ``pip install --target /tmp/deps``, HOME | 65534:65534, read-only root; /tmp an emptyDir |
| otel/opentelemetry-collector-contrib 0.158.0 | ``distributions/otelcol-contrib/Dockerfile``: ``USER 10001:10001`` | nothing (the chart mounts its config) | 10001:10001, set in the chart's empty-by-default ``podSecurityContext`` |

The charts' own pods: Prometheus and Alertmanager run as 1000:2000, the operator, its webhook jobs,
kube-state-metrics and node-exporter as 65534 (or 2000), Grafana as 472 and Tempo as 10001 through the
charts' default ``securityContext`` (kube-prometheus-stack 88.5.3 and its subcharts kube-state-metrics
8.4.0 and prometheus-node-exporter 4.56.1, grafana, tempo 2.2.4 values.yaml); Tempo's image itself says
``USER 10001:10001`` (``cmd/tempo/Dockerfile`` v2.10.8). Grafana's ``initChownData`` container runs as root
with CHOWN, so it is turned off: fsGroup 472 already owns the volume. The exceptions, alone in namespace
monitoring-exporters: dcgm-exporter runs as root with SYS_ADMIN (its chart's default, for the profiling
counters), node-exporter shares the host's network and process namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NO_API_TOKEN: dict[str, Any] = {"automountServiceAccountToken": False}
HARDENED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# For images proven (tests/test_containers.py) to write only to their declared volumes.
READ_ONLY_CONTAINER: dict[str, Any] = {**HARDENED_CONTAINER, "readOnlyRootFilesystem": True}


@dataclass(frozen=True)
class ImageUser:
    """The numeric user and group an image runs as, and the image version that was read to choose them."""

    uid: int
    gid: int
    # "<repository>:<tag>" whose build file the table above was read from; a version bump re-reads it.
    read_at: str

    def pod_security_context(self) -> dict[str, Any]:
        return {
            "runAsNonRoot": True,
            "runAsUser": self.uid,
            "runAsGroup": self.gid,
            "fsGroup": self.gid,
            "seccompProfile": {"type": "RuntimeDefault"},
        }


LLAMA_STACK_USER = ImageUser(1001, 1001, "llamastack/distribution-starter:0.7.3")
VLLM_USER = ImageUser(2000, 2000, "vllm/vllm-openai:v0.33.0")
# HOME of the vllm user the image creates (owned by uid 2000): its caches resolve under it.
VLLM_HOME = "/home/vllm"
INFERENCE_SIM_USER = ImageUser(65532, 65532, "llm-d/llm-d-inference-sim:v0.10.2")
WORKLOAD_USER = ImageUser(65534, 65534, "library/python:3.12.10-slim")
OTEL_COLLECTOR_USER = ImageUser(10001, 10001, "otel/opentelemetry-collector-contrib:0.158.0")

# A writable /tmp (and HOME) for a container with a read-only root file system.
SCRATCH_PATH = "/tmp"


def scratch_volume(size: str) -> dict[str, Any]:
    return {"name": "tmp", "emptyDir": {"sizeLimit": size}}


SCRATCH_MOUNT: dict[str, Any] = {"name": "tmp", "mountPath": SCRATCH_PATH}
