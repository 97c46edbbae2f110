#!/usr/bin/env bash
# Shows what `make deploy` would change on one stack (default dev), with the policy pack applied, as CI
# does on every pull request. State: the local file backend (.pulumi-state/) unless PULUMI_BACKEND_URL
# says otherwise. Usage: scripts/preview.sh [STACK] [extra `pulumi preview` flags...]
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:-dev}"
shift || true

command -v pulumi >/dev/null 2>&1 || { echo "✗ Pulumi CLI not found: see the README's prerequisites." >&2; exit 1; }
[ -x .venv/bin/python ] || { echo "✗ No .venv: run 'make preview' (it creates the virtualenv first)." >&2; exit 1; }
if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
fi

pulumi stack select --create "$stack" >/dev/null
pulumi preview --stack "$stack" --policy-pack policy --diff "$@"
