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

# --- AI workloads (namespace llm) ---------------------------------------------------------------------
# vLLM: the model server image AND the metric catalogue the dashboards are written against
# (../shared/reference/metrics/vllm-metrics.txt is read from this exact release). Change both together.
VLLM = "v0.33.0"
VLLM_IMAGE = f"docker.io/vllm/vllm-openai:{VLLM}"
# llm-d's model-server chart (Deployment per role, tracing wiring, pvc+hf model cache). The Helm repo is
# the one its README installs from.
LLM_D_MODELSERVICE_CHART = "v0.4.12"
LLM_D_MODELSERVICE_REPO = "https://llm-d-incubation.github.io/llm-d-modelservice/"
# llm-d's vLLM simulator for the no-GPU mode: vLLM's OpenAI API and a subset of its metrics, on a CPU.
LLM_D_INFERENCE_SIM = "v0.10.2"
LLM_D_INFERENCE_SIM_IMAGE = f"ghcr.io/llm-d/llm-d-inference-sim:{LLM_D_INFERENCE_SIM}"
# Llama Stack: the 0.7 line is the last before the OGX rename; its telemetry is plain OTLP (OTEL_* env).
LLAMA_STACK = "0.7.3"
LLAMA_STACK_IMAGE = f"docker.io/llamastack/distribution-starter:{LLAMA_STACK}"
# The workload Job: a stock Python image plus the pinned client (same pins as requirements-dev.txt).
WORKLOAD_PYTHON_IMAGE = "docker.io/library/python:3.12.10-slim"
LLAMA_STACK_CLIENT = "0.7.5"
HTTPX = "0.28.1"
# llm-d's router (EPP) for the optional router=true: the chart and the EPP image are released together
# under one tag; v0.10.0 is the version whose llm_d_epp_* metric catalogue the dashboards use.
LLM_D_ROUTER = "v0.10.0"
LLM_D_ROUTER_CHART = "oci://ghcr.io/llm-d/charts/llm-d-router-standalone"
