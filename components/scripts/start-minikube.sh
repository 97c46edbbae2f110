#!/usr/bin/env bash
# Starts (or updates) the single-node MiniKube cluster with every GPU of the host.
# Usage: start-minikube.sh CPUS MEMORY_MIB KUBERNETES_VERSION PUBLIC_IP API_PORT GPU_COUNT
# GPU_COUNT 0 (a CPU host, for the no-GPU simulator mode) starts the node without GPUs.
set -euo pipefail

# The arguments reach the inner shell of `sg` as environment variables, expanded there inside double
# quotes: never as command text, so no value is parsed as shell code a second time.
export MINIKUBE_CPUS="$1" MINIKUBE_MEMORY_MIB="$2" MINIKUBE_KUBERNETES_VERSION="$3" MINIKUBE_PUBLIC_IP="$4"
export MINIKUBE_API_PORT="$5" MINIKUBE_GPUS="--gpus=all"
if [ "$6" = "0" ]; then
  MINIKUBE_GPUS=""
fi

# `sg docker` because the user joined the docker group after this login session's groups were set.
# The API server listens on every interface of the host at API_PORT; the security group admits only
# allowedCidrs, and its certificate is valid for the public (Elastic) IP.
# shellcheck disable=SC2016 # expanded by the inner shell, on purpose
sg docker -c 'minikube start \
  --driver=docker \
  --container-runtime=docker \
  ${MINIKUBE_GPUS:+"$MINIKUBE_GPUS"} \
  --cpus="$MINIKUBE_CPUS" \
  --memory="${MINIKUBE_MEMORY_MIB}mb" \
  --kubernetes-version="$MINIKUBE_KUBERNETES_VERSION" \
  --apiserver-ips="$MINIKUBE_PUBLIC_IP" \
  --listen-address=0.0.0.0 \
  --ports="${MINIKUBE_API_PORT}:8443" \
  --embed-certs \
  --wait=all'
