#!/usr/bin/env bash
# Fails loudly unless the MiniKube node offers the expected number of GPUs to pods.
# Usage: verify-gpus.sh EXPECTED_GPU_COUNT
set -euo pipefail

expected="$1"
deadline=$((SECONDS + 300))
found=""

while [ "$SECONDS" -lt "$deadline" ]; do
  found="$(kubectl get node minikube -o jsonpath='{.status.allocatable.nvidia\.com/gpu}' 2>/dev/null || true)"
  if [ "$found" = "$expected" ]; then
    echo "node minikube offers ${found} nvidia.com/gpu"
    exit 0
  fi
  sleep 5
done

echo "node minikube offers '${found:-0}' nvidia.com/gpu, expected ${expected}." >&2
echo "Check: nvidia-smi on the host, and kubectl -n kube-system logs -l name=nvidia-device-plugin-ds" >&2
exit 1
