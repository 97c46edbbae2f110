#!/usr/bin/env bash
# Lets one CI runner reach its stack's host (SSH and the Kubernetes API) for the length of one run,
# without ever opening the host to the world.
#
#   scripts/ci-ingress.sh open STACK    adds this runner's public address (/32) to allowedCidrs in the
#                                       run's own copy of Pulumi.<STACK>.yaml (never committed) and, when
#                                       the stack already has its security group, updates only that group
#   scripts/ci-ingress.sh close STACK   removes the address again and updates only the security group
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

security_group_urn() {
  pulumi stack export --stack "$stack" | python3 -c '
import json, sys
resources = json.load(sys.stdin).get("deployment", {}).get("resources") or []
urns = [r["urn"] for r in resources if r.get("type") == "aws:ec2/securityGroup:SecurityGroup"]
print(urns[0] if urns else "")'
}

update_security_group() {
  local urn
  urn="$(security_group_urn)"
  if [ -z "$urn" ]; then
    echo "No security group in stack '$stack' yet: the deploy creates it with the runner allowed."
    return 0
  fi
  pulumi up --stack "$stack" --yes --skip-preview --target "$urn" "${policy_flags[@]}"
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
    update_security_group
    ;;
  close)
    if [ ! -f "$state_file" ]; then
      echo "Nothing to close: the runner was never added to stack '$stack'."
      exit 0
    fi
    pulumi config rm --stack "$stack" --path "allowedCidrs[$(cat "$state_file")]"
    rm -f "$state_file"
    update_security_group
    echo "Runner removed from stack '$stack'."
    ;;
  *)
    echo "usage: scripts/ci-ingress.sh open|close STACK" >&2
    exit 2
    ;;
esac
