"""The EC2 instance types the stack can run on, with what later layers need to know about them.

One catalogue, read by validation (is the type supported?), MiniKube sizing (vCPU, memory), the GPU check
(how many ``nvidia.com/gpu`` the node must report) and the cost signals (on-demand price per hour).
Prices are Linux on-demand list prices in us-east-1, in USD per hour; other regions differ, so the
``hourlyPriceUsd`` setting overrides them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: int
    vcpu: int
    memory_gib: int
    usd_per_hour: float

    @property
    def has_gpus(self) -> bool:
        return self.gpu_count > 0


GPU_INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        # NVIDIA L4 (24 GiB): the default family; g6.12xlarge is the reference machine.
        InstanceType("g6.xlarge", "NVIDIA L4", 1, 24, 4, 16, 0.8048),
        InstanceType("g6.2xlarge", "NVIDIA L4", 1, 24, 8, 32, 0.9776),
        InstanceType("g6.4xlarge", "NVIDIA L4", 1, 24, 16, 64, 1.3232),
        InstanceType("g6.8xlarge", "NVIDIA L4", 1, 24, 32, 128, 2.0144),
        InstanceType("g6.12xlarge", "NVIDIA L4", 4, 24, 48, 192, 4.6016),
        InstanceType("g6.16xlarge", "NVIDIA L4", 1, 24, 64, 256, 3.3968),
        InstanceType("g6.24xlarge", "NVIDIA L4", 4, 24, 96, 384, 6.6752),
        InstanceType("g6.48xlarge", "NVIDIA L4", 8, 24, 192, 768, 13.3504),
        # NVIDIA L40S (48 GiB): for models that do not fit an L4.
        InstanceType("g6e.xlarge", "NVIDIA L40S", 1, 48, 4, 32, 1.861),
        InstanceType("g6e.2xlarge", "NVIDIA L40S", 1, 48, 8, 64, 2.24208),
        InstanceType("g6e.12xlarge", "NVIDIA L40S", 4, 48, 48, 384, 10.49264),
        InstanceType("g6e.48xlarge", "NVIDIA L40S", 8, 48, 192, 1536, 30.13118),
        # NVIDIA A10G (24 GiB): the previous generation, often easier to get quota for.
        InstanceType("g5.xlarge", "NVIDIA A10G", 1, 24, 4, 16, 1.006),
        InstanceType("g5.2xlarge", "NVIDIA A10G", 1, 24, 8, 32, 1.212),
        InstanceType("g5.12xlarge", "NVIDIA A10G", 4, 24, 48, 192, 5.672),
        InstanceType("g5.48xlarge", "NVIDIA A10G", 8, 24, 192, 768, 16.288),
    )
}


# CPU-only types: the hosts of the no-GPU mode (servingMode=simulator: llm-d's vLLM simulator needs no
# GPU) and the EKS node group that carries the observability stack.
CPU_INSTANCE_TYPES: dict[str, InstanceType] = {
    t.name: t
    for t in (
        InstanceType("m7i.xlarge", "", 0, 0, 4, 16, 0.2016),
        InstanceType("m7i.2xlarge", "", 0, 0, 8, 32, 0.4032),
        InstanceType("m7i.4xlarge", "", 0, 0, 16, 64, 0.8064),
    )
}

# What an EKS control plane costs per hour (standard support).
EKS_CONTROL_PLANE_USD_PER_HOUR = 0.10


def lookup(name: str) -> InstanceType | None:
    return GPU_INSTANCE_TYPES.get(name) or CPU_INSTANCE_TYPES.get(name)
