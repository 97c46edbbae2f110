#!/usr/bin/env bash
# Prepares the GPU host for MiniKube. Run by cloud-init as root, and safe to run again: every step
# converges (the wait step re-runs it through cloud-init when the first run failed).
# Usage: prepare-host.sh SSH_USER GPU_COUNT
# GPU_COUNT 0 (a CPU host, for the no-GPU simulator mode) skips the NVIDIA runtime and the GPU check.
set -euo pipefail

ssh_user="$1"
gpu_count="$2"
ready_marker=/var/lib/llm-observability/host-ready

# MiniKube's GPU support needs BPF JIT hardening off (see /etc/sysctl.d/99-minikube-gpu.conf).
sysctl --system >/dev/null

if [ "$gpu_count" != "0" ]; then
  # Docker gets the NVIDIA runtime so that `minikube start --gpus all` can hand the GPUs to the node.
  nvidia-ctk runtime configure --runtime=docker
  systemctl restart docker
fi
usermod -aG docker "$ssh_user"

if [ "$gpu_count" != "0" ]; then
  # Fail here, not deep inside MiniKube, when the driver does not see the GPUs.
  nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
fi

mkdir -p "$(dirname "$ready_marker")"
date -u +%Y-%m-%dT%H:%M:%SZ >"$ready_marker"
