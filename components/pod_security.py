"""What every pod the stack declares itself (not through a chart) gives up.

None of them talks to the Kubernetes API, so none gets a service account token; no container may gain
privileges, keeps a Linux capability, or runs without the runtime's default seccomp profile. The Llama
Stack and vLLM images are not known to run as a non-root user, so their pods are not forced to a user
id (Pod Security's restricted level, warned in namespace llm, reports it); the workload runs as nobody.
"""

from __future__ import annotations

from typing import Any

NO_API_TOKEN: dict[str, Any] = {"automountServiceAccountToken": False}
HARDENED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
