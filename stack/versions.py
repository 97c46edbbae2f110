"""Every version the stack installs, pinned in one place.

A version written anywhere else drifts from this one; components receive these values through the
stack wiring. The README's versions table is checked against this module by the tests.
"""

from __future__ import annotations

# Host tools, installed by cloud-init on the GPU host.
MINIKUBE = "v1.37.0"
# MiniKube v1.37's default Kubernetes; kubectl on the host matches the server's minor version.
KUBERNETES = "v1.34.0"
KUBECTL = KUBERNETES

# The AWS Deep Learning Base OSS NVIDIA Driver GPU AMI (Ubuntu 24.04): NVIDIA driver, container
# toolkit and Docker preinstalled. Resolved through AWS's public SSM parameter when no AMI is given.
GPU_AMI_SSM_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
)
