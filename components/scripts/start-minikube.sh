#!/usr/bin/env bash
# Starts (or upgrades in place) the single-node MiniKube cluster with every GPU of the host, through a
# systemd unit, so that MiniKube also comes back by itself after a reboot, a stop by the idle guard or
# a Spot interruption. The node's memory is the host's measured available memory less RESERVED_MIB.
# Usage: start-minikube.sh CPUS RESERVED_MIB KUBERNETES_VERSION PUBLIC_IP API_PORT NODE_IP GPU_COUNT
# GPU_COUNT 0 (a CPU host, for the no-GPU simulator mode) starts the node without GPUs.
set -euo pipefail

cpus="$1"
reserved_mib="$2"
kubernetes_version="$3"
public_ip="$4"
api_port="$5"
node_ip="$6"
gpu_count="$7"
unit=llm-observability-minikube.service
data_dir=/var/lib/llm-observability/data
min_memory_mib=4096

gpus_flag=""
if [ "$gpu_count" != "0" ]; then
  gpus_flag="--gpus=all"
fi

# What the OS can give the node now, not the instance type's nominal memory. MiniKube keeps the size
# an existing node was created with, so this is measured once per host.
available_mib=$(($(awk '/^MemAvailable:/ {print $2}' /proc/meminfo) / 1024))
memory_mib=$((available_mib - reserved_mib))
if [ "$memory_mib" -lt "$min_memory_mib" ]; then
  echo "only ${available_mib} MiB available on the host; MiniKube needs ${min_memory_mib} MiB beyond the ${reserved_mib} MiB the host keeps" >&2
  exit 1
fi

# The API server listens on every interface of the host at API_PORT; the security group admits only
# allowedCidrs, and its certificate is valid for the public (Elastic) IP. Calico enforces NetworkPolicies
# (MiniKube's default bridge CNI ignores them); the node's
# address is fixed, because the NetworkPolicies name it. The hostpath volumes are on the data volume,
# which outlives the host.
sudo tee "/etc/systemd/system/${unit}" >/dev/null <<UNIT
[Unit]
Description=MiniKube with the host's GPUs (llm-observability)
Wants=network-online.target
After=network-online.target docker.service
Requires=docker.service
RequiresMountsFor=${data_dir}

[Service]
Type=oneshot
RemainAfterExit=yes
User=$(id -un)
SupplementaryGroups=docker
Environment=HOME=${HOME}
TimeoutStartSec=1800
ExecStart=/usr/local/bin/minikube start --driver=docker --container-runtime=docker --cni=calico --static-ip=${node_ip} ${gpus_flag} --cpus=${cpus} --memory=${memory_mib}mb --kubernetes-version=${kubernetes_version} --apiserver-ips=${public_ip} --ports=${api_port}:8443 --embed-certs --mount --mount-string=${data_dir}/hostpath-provisioner:/tmp/hostpath-provisioner --wait=all
ExecStop=/usr/local/bin/minikube stop

[Install]
WantedBy=multi-user.target
UNIT
sudo systemctl daemon-reload
sudo systemctl enable "$unit" >/dev/null 2>&1
# A restart, not a start: a changed Kubernetes version is an in-place upgrade of the running node.
if ! sudo systemctl restart "$unit"; then
  echo "MiniKube did not start; its log follows (a Kubernetes downgrade needs a new host: see the README)." >&2
  sudo journalctl -u "$unit" -n 60 --no-pager >&2 || true
  exit 1
fi
echo "MiniKube started by ${unit}: ${cpus} CPUs, ${memory_mib} MiB (of ${available_mib} MiB available)"
