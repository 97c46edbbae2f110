#!/usr/bin/env bash
# Deploys one stack (default dev) after checking every prerequisite, saying what is missing and how to
# get it. State goes to a local file backend (.pulumi-state/) unless PULUMI_BACKEND_URL says otherwise.
# Usage: scripts/deploy.sh [STACK] [extra `pulumi up` flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-dev}"
shift || true
missing=0

fail() {
  echo "✗ $1" >&2
  missing=1
}

if ! command -v pulumi >/dev/null 2>&1; then
  fail "Pulumi CLI not found. Install it: curl -fsSL https://get.pulumi.com | sh (or brew install pulumi/tap/pulumi)"
fi

# The AWS CLI is not optional: `make destroy` runs it to cancel a Spot host's request (without it the
# destroy stops before the host goes), and `make start` runs it to start a stopped host.
if ! command -v aws >/dev/null 2>&1; then
  fail "AWS CLI not found. Install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html): 'make destroy' and 'make start' run it."
else
  aws sts get-caller-identity >/dev/null 2>&1 \
    || fail "AWS credentials do not work (aws sts get-caller-identity failed). Run 'aws configure' or 'aws sso login', or export AWS_PROFILE."
fi

if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi
if [[ "$PULUMI_BACKEND_URL" == file://* ]] && [ -z "${PULUMI_CONFIG_PASSPHRASE:-}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  fail "Set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): it encrypts this stack's secrets in the local state. Keep it safe."
fi

if [ ! -x .venv/bin/python ]; then
  fail "No .venv: run 'make deploy' (it creates the virtualenv first) or 'make .venv/.installed'."
fi

[ "$missing" -eq 0 ] || exit 1

pulumi stack select --create "$stack" >/dev/null

# allowedCidrs must be set, and not to the documentation address the stack file ships with.
cidrs="$(pulumi config get allowedCidrs 2>/dev/null || true)"
if [ -z "$cidrs" ] || [ "$cidrs" = "[]" ] || grep -qE '(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)' <<<"$cidrs"; then
  my_ip="$(curl -fsS --max-time 5 https://checkip.amazonaws.com 2>/dev/null | tr -d '[:space:]' || true)"
  echo "allowedCidrs decides who may reach SSH and the Kubernetes API; it is ${cidrs:-not set}." >&2
  if [ -n "$my_ip" ] && [ -t 0 ]; then
    read -r -p "Allow only your current address ${my_ip}/32? [Y/n] " answer
    if [[ "${answer:-Y}" =~ ^[Yy] ]]; then
      pulumi config set --path 'allowedCidrs[0]' "${my_ip}/32"
      cidrs="[\"${my_ip}/32\"]"
    fi
  fi
  if [ -z "$cidrs" ] || grep -qE '(192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)' <<<"$cidrs"; then
    echo "✗ Set it, for example: pulumi config set --stack $stack --path 'allowedCidrs[0]' ${my_ip:-<your-ip>}/32" >&2
    exit 1
  fi
fi

# A host the idle guard stopped would make the update fail with "cluster unreachable": start it first.
scripts/start-host.sh "$stack"

# Documentation values and alerts that go nowhere are refused by the program itself (stack/config/guards.py,
# switched on in Pulumi.prod.yaml), so the refusal holds in CI too; the policy pack runs here as in CI.
echo "Deploying stack '$stack' (state: $PULUMI_BACKEND_URL, allowed: $cidrs)"
pulumi up --stack "$stack" --policy-pack policy "$@"
