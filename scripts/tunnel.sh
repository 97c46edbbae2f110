#!/usr/bin/env bash
# Reaches a stack's Grafana, Prometheus, Alertmanager and Tempo on localhost. Every service is
# ClusterIP; this forwards them with `kubectl port-forward` over the Kubernetes API, which only
# allowedCidrs can reach. The kubeconfig goes to a private temporary file, removed on exit.
# Usage: scripts/tunnel.sh STACK        (Ctrl-C stops every forward)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 STACK" >&2
  exit 2
fi
stack="$1"
namespace="monitoring"
cd "$(dirname "$0")/.."
# The state `make deploy` wrote: the local file backend unless PULUMI_BACKEND_URL says otherwise.
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi-state}"

umask 077
kubeconfig="$(mktemp "${TMPDIR:-/tmp}/llm-observability-kubeconfig.XXXXXX")"
forwards=()
# shellcheck disable=SC2329  # run by the EXIT trap below
cleanup() {
  if [[ ${#forwards[@]} -gt 0 ]]; then
    kill "${forwards[@]}" 2>/dev/null || true
  fi
  rm -f "$kubeconfig"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pulumi stack output kubeconfig --show-secrets --stack "$stack" >"$kubeconfig"

# forward SERVICE LOCAL_PORT SERVICE_PORT
forward() {
  kubectl --kubeconfig "$kubeconfig" --namespace "$namespace" port-forward \
    --address 127.0.0.1 "svc/$1" "$2:$3" >/dev/null &
  forwards+=("$!")
  echo "  http://localhost:$2  ->  svc/$1:$3"
}

echo "Forwarding from stack $stack (namespace $namespace):"
forward grafana 3000 80
forward kube-prometheus-stack-prometheus 9090 9090
forward kube-prometheus-stack-alertmanager 9093 9093
forward tempo 3200 3200
echo "Grafana login: user admin, password from: pulumi stack output grafanaAdminPassword --show-secrets --stack $stack"
echo "Press Ctrl-C to stop."
wait -n
echo "A port-forward ended; stopping the others." >&2
exit 1
