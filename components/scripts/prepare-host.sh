#!/usr/bin/env bash
# Prepares the GPU host for MiniKube; run once by cloud-init as root.
# Usage: prepare-host.sh MINIKUBE_VERSION KUBECTL_VERSION SSH_USER GPU_COUNT
# GPU_COUNT 0 (a CPU host, for the no-GPU simulator mode) skips the NVIDIA runtime and the GPU check.
set -euo pipefail

minikube_version="$1"
kubectl_version="$2"
ssh_user="$3"
gpu_count="$4"
ready_marker=/var/lib/llm-observability/host-ready

# Downloads a release binary and checks it against the checksum its publisher serves beside it.
install_binary() {
  local name="$1" url="$2" tmp
  tmp="$(mktemp -d)"
  curl -fsSL --retry 5 -o "$tmp/$name" "$url"
  echo "$(curl -fsSL --retry 5 "$url.sha256" | cut -d' ' -f1)  $tmp/$name" | sha256sum --check --status
  install -m 0755 "$tmp/$name" "/usr/local/bin/$name"
  rm -rf "$tmp"
}

install_binary minikube \
  "https://github.com/kubernetes/minikube/releases/download/${minikube_version}/minikube-linux-amd64"
install_binary kubectl "https://dl.k8s.io/release/${kubectl_version}/bin/linux/amd64/kubectl"

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
