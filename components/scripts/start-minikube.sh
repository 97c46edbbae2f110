#!/usr/bin/env bash
# Starts (or updates) the single-node MiniKube cluster with every GPU of the host.
# Usage: start-minikube.sh CPUS MEMORY_MIB KUBERNETES_VERSION PUBLIC_IP API_PORT GPU_COUNT
# GPU_COUNT 0 (a CPU host, for the no-GPU simulator mode) starts the node without GPUs.
set -euo pipefail

cpus="$1"
memory_mib="$2"
kubernetes_version="$3"
public_ip="$4"
api_port="$5"
gpu_count="$6"
gpus_flag="--gpus=all"
if [ "$gpu_count" = "0" ]; then
  gpus_flag=""
fi

# `sg docker` because the user joined the docker group after this login session's groups were set.
# The API server listens on every interface of the host at API_PORT; the security group admits only
# allowedCidrs, and its certificate is valid for the public (Elastic) IP.
sg docker -c "minikube start \
  --driver=docker \
  --container-runtime=docker \
  ${gpus_flag} \
  --cpus=${cpus} \
  --memory=${memory_mib}mb \
  --kubernetes-version=${kubernetes_version} \
  --apiserver-ips=${public_ip} \
  --listen-address=0.0.0.0 \
  --ports=${api_port}:8443 \
  --embed-certs \
  --wait=all"
