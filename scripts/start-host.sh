#!/usr/bin/env bash
# Brings a stopped GPU host back (stopped by the idle guard, by you, or waiting after a Spot interruption),
# and waits until MiniKube is up on it (its systemd unit starts it at boot). Nothing to do for a running
# host, a stack not deployed yet, or a backend without a host (eks, kubeconfig).
# Usage: scripts/start-host.sh [STACK]
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-dev}"
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi

instance="$(pulumi stack output instanceId --stack "$stack" 2>/dev/null || true)"
if [ -z "$instance" ]; then
  echo "Stack '$stack' has no GPU host (not deployed yet, or a backend without one): nothing to start."
  exit 0
fi
region="$(pulumi config get aws:region --stack "$stack")"
describe() {
  aws ec2 describe-instances --region "$region" --instance-ids "$instance" \
    --query 'Reservations[0].Instances[0].State.Name' --output text
}

state="$(describe)"
if [ "$state" = "stopping" ]; then
  aws ec2 wait instance-stopped --region "$region" --instance-ids "$instance"
  state=stopped
fi
case "$state" in
  running | pending) ;;
  stopped)
    echo "Starting host $instance (stack '$stack')..."
    if ! aws ec2 start-instances --region "$region" --instance-ids "$instance" >/dev/null; then
      echo "✗ The host did not start. A Spot host stopped by an interruption is restarted by AWS when capacity returns." >&2
      exit 1
    fi
    ;;
  *)
    echo "✗ Host $instance is $state; it cannot be started." >&2
    exit 1
    ;;
esac
aws ec2 wait instance-running --region "$region" --instance-ids "$instance"

# The SSH command output ends with user@address.
target="$(pulumi stack output sshCommand --stack "$stack" | awk '{print $NF}')"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
pulumi stack output sshPrivateKey --show-secrets --stack "$stack" >"$scratch/key"
chmod 600 "$scratch/key"
ssh_opts=(-i "$scratch/key" -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=accept-new
  -o "UserKnownHostsFile=$scratch/known_hosts")

for _ in $(seq 1 30); do
  ssh "${ssh_opts[@]}" "$target" true 2>/dev/null && break
  sleep 10
done
# The unit (components/scripts/start-minikube.sh) starts MiniKube at boot; `systemctl start` returns once
# it has (at once when it already has), and starts it again if it was stopped by hand.
ssh "${ssh_opts[@]}" "$target" sudo systemctl start llm-observability-minikube.service
echo "Host $instance and MiniKube are running."
