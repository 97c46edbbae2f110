#!/usr/bin/env bash
# Removes every resource of one stack, after the stack's name is typed again (or given as CONFIRM=<stack>
# when there is no terminal). Works with the host stopped or the cluster unreachable: nothing in the
# stack needs the cluster to be deleted (see the README's "Safe teardown").
# Usage: scripts/destroy.sh STACK [extra `pulumi destroy` flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:?usage: scripts/destroy.sh STACK}"
shift

command -v pulumi >/dev/null 2>&1 || { echo "✗ Pulumi CLI not found: see the README's prerequisites." >&2; exit 1; }
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi

confirm="${CONFIRM:-}"
if [ -z "$confirm" ] && [ -t 0 ]; then
  echo "This deletes the GPU host, its disk, address and key, and everything on the cluster of stack '$stack'."
  read -r -p "Type the stack name to confirm: " confirm
fi
if [ "$confirm" != "$stack" ]; then
  echo "✗ Not confirmed ('${confirm}' is not '${stack}'); nothing was deleted." >&2
  exit 1
fi

# MiniKube's objects die with their host: when it is stopped or gone they are dropped from the state
# rather than failing the run. On EKS or an existing cluster a claim is a cloud volume: a destroy that
# cannot reach the cluster fails loudly instead of forgetting it.
backend="$(pulumi config get clusterBackend --stack "$stack" 2>/dev/null || true)"
if [ "${backend:-minikube}" = minikube ]; then
  export PULUMI_K8S_DELETE_UNREACHABLE=true
fi
pulumi destroy --stack "$stack" --yes "$@"
scripts/check-leftover-volumes.sh "$stack"
