#!/usr/bin/env bash
# Benchmark: time from `pulumi up` to live vLLM and GPU metrics in Prometheus (what Grafana shows).
# Runs `pulumi up` for STACK with every line stamped with the seconds since the start, then polls
# Prometheus through the Kubernetes API until the first vLLM and DCGM series exist. Prints a summary.
# Usage: scripts/measure-time-to-first-dashboard.sh STACK [TIMEOUT_SECONDS]
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 STACK [TIMEOUT_SECONDS]" >&2
  exit 2
fi
stack="$1"
timeout_seconds="${2:-1800}"
cd "$(dirname "$0")/.."
# The state `make deploy` wrote: the local file backend unless PULUMI_BACKEND_URL says otherwise.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT
umask 077

stamp() {
  while IFS= read -r line; do
    printf '%5ds  %s\n' "$SECONDS" "$line"
  done
}

SECONDS=0
echo "    0s  pulumi up --stack $stack"
pulumi up --yes --skip-preview --stack "$stack" 2>&1 | stamp
up_seconds="$SECONDS"

export KUBECONFIG="$workdir/kubeconfig"
pulumi stack output kubeconfig --show-secrets --stack "$stack" >"$KUBECONFIG"

# Prometheus' own Service (prometheus-operated is created by the operator for every Prometheus).
query() {
  kubectl get --raw "/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy/api/v1/query?query=$1" 2>/dev/null || true
}
has_series() {
  case "$(query "$1")" in
    *'"result":[]'* | '') return 1 ;;
    *'"result":['*) return 0 ;;
    *) return 1 ;;
  esac
}

vllm_seconds=""
gpu_seconds=""
while [ "$SECONDS" -lt "$timeout_seconds" ]; do
  if [ -z "$vllm_seconds" ] && has_series 'vllm:num_requests_running'; then
    vllm_seconds="$SECONDS"
    printf '%5ds  first vLLM series in Prometheus (vllm:num_requests_running)\n' "$SECONDS"
  fi
  if [ -z "$gpu_seconds" ] && has_series 'DCGM_FI_DEV_GPU_UTIL'; then
    gpu_seconds="$SECONDS"
    printf '%5ds  first GPU series in Prometheus (DCGM_FI_DEV_GPU_UTIL)\n' "$SECONDS"
  fi
  if [ -n "$vllm_seconds" ] && [ -n "$gpu_seconds" ]; then
    break
  fi
  sleep 5
done

echo "--- time to first dashboard ($stack) ---"
echo "pulumi up:          ${up_seconds}s"
echo "first vLLM metrics: ${vllm_seconds:-not within ${timeout_seconds}s}${vllm_seconds:+s}"
echo "first GPU metrics:  ${gpu_seconds:-not within ${timeout_seconds}s}${gpu_seconds:+s}"
[ -n "$vllm_seconds" ] && [ -n "$gpu_seconds" ]
