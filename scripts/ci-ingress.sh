#!/usr/bin/env bash
# Lets one CI runner reach its stack's host (SSH and the Kubernetes API) for the length of one run,
# without ever opening the host to the world.
#
#   scripts/ci-ingress.sh open STACK    adds this runner's public address (/32) to allowedCidrs in the
#                                       run's own copy of Pulumi.<STACK>.yaml (never committed) and, when
#                                       the stack already exists, updates only what that list opens (the
#                                       host's security group, or the EKS API endpoint's allowed networks)
#   scripts/ci-ingress.sh close STACK   removes the address again and updates only those resources
#
# The deploy in between (`pulumi up`) sees the same allowedCidrs, so it never takes the address away
# mid-run. `close` runs even when the deploy failed (`if: always()` in the workflow).
set -euo pipefail
cd "$(dirname "$0")/.."

action="${1:?usage: scripts/ci-ingress.sh open|close STACK}"
stack="${2:?usage: scripts/ci-ingress.sh open|close STACK}"
# Where `open` notes the list position it used, for `close` (the runner's scratch space in CI).
state_file="${RUNNER_TEMP:-.}/.ci-ingress-${stack}"
policy_flags=(--policy-pack policy)

# What allowedCidrs opens: the GPU host's security group (minikube) or the EKS API endpoint (eks).
# An existing cluster (kubeconfig) has neither, and nothing to open.
ingress_urns() {
  pulumi stack export --stack "$stack" | python3 -c '
import json, sys
stack = sys.argv[1]
resources = json.load(sys.stdin).get("deployment", {}).get("resources") or []
for r in resources:
    host_group = r.get("type") == "aws:ec2/securityGroup:SecurityGroup" and r["urn"].endswith(f"::llm-observability-{stack}-sg")
    if host_group or r.get("type") == "aws:eks/cluster:Cluster":
        print(r["urn"])' "$stack"
}

update_ingress() {
  local urns=() targets=() urn
  mapfile -t urns < <(ingress_urns)
  if [ "${#urns[@]}" -eq 0 ]; then
    echo "Nothing in stack '$stack' limits access by allowedCidrs yet: the deploy applies the list as it is."
    return 0
  fi
  for urn in "${urns[@]}"; do
    targets+=(--target "$urn")
  done
  pulumi up --stack "$stack" --yes --skip-preview "${targets[@]}" "${policy_flags[@]}"
}

case "$action" in
  open)
    address="$(curl -fsS --max-time 10 --retry 3 https://checkip.amazonaws.com | tr -d '[:space:]')"
    if ! [[ "$address" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; then
      echo "✗ Could not learn this runner's public IPv4 address (got '${address}')." >&2
      exit 1
    fi
    count="$(pulumi config get allowedCidrs --stack "$stack" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')"
    pulumi config set --stack "$stack" --path "allowedCidrs[${count}]" "${address}/32"
    echo "$count" >"$state_file"
    echo "Runner ${address}/32 allowed on stack '$stack' for this run."
    update_ingress
    ;;
  close)
    if [ ! -f "$state_file" ]; then
      echo "Nothing to close: the runner was never added to stack '$stack'."
      exit 0
    fi
    pulumi config rm --stack "$stack" --path "allowedCidrs[$(cat "$state_file")]"
    rm -f "$state_file"
    update_ingress
    echo "Runner removed from stack '$stack'."
    ;;
  *)
    echo "usage: scripts/ci-ingress.sh open|close STACK" >&2
    exit 2
    ;;
esac
