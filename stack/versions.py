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

# EKS (clusterBackend eks): the same Kubernetes minor as MiniKube, so one set of charts fits both.
EKS_KUBERNETES = "1.34"

# The AWS Deep Learning Base OSS NVIDIA Driver GPU AMI (Ubuntu 24.04): NVIDIA driver, container
# toolkit and Docker preinstalled. Resolved through AWS's public SSM parameter when no AMI is given.
GPU_AMI_SSM_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-24.04/latest/ami-id"
)

# NVIDIA device plugin for EKS GPU nodes (MiniKube brings its own addon; an existing cluster has one).
NVIDIA_DEVICE_PLUGIN_CHART = "nvidia-device-plugin"
NVIDIA_DEVICE_PLUGIN_REPO = "https://nvidia.github.io/k8s-device-plugin"
NVIDIA_DEVICE_PLUGIN_VERSION = "0.19.0"
