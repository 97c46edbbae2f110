#!/usr/bin/env bash
# Waits until cloud-init has prepared the host (prepare-host.sh wrote its marker). When cloud-init
# failed, prints cloud-init's own error, runs the (idempotent) bootstrap once more, and fails with the
# log if that fails too: a later `pulumi up` retries the same way.
set -euo pipefail

ready_marker="${READY_MARKER:-/var/lib/llm-observability/host-ready}"
wait_seconds="${CLOUD_INIT_WAIT_SECONDS:-1200}"

# `status --wait` returns once cloud-init is done: 0 when it succeeded, non-zero after an error.
if report="$(timeout "$wait_seconds" cloud-init status --wait --long 2>&1)"; then
  outcome=0
else
  outcome=$?
fi
if [ -f "$ready_marker" ]; then
  echo "host ready since $(cat "$ready_marker")"
  exit 0
fi
if [ "$outcome" = 124 ]; then
  echo "the host was not ready after $((wait_seconds / 60)) minutes; cloud-init says:" >&2
  echo "$report" >&2
  exit 1
fi

echo "cloud-init did not prepare the host; its own report:" >&2
echo "$report" >&2
echo "running the bootstrap again (it is idempotent)..." >&2
if sudo cloud-init single --name scripts_user --frequency always >&2 && [ -f "$ready_marker" ]; then
  echo "host ready since $(cat "$ready_marker") (bootstrap retried)"
  exit 0
fi
echo "the bootstrap failed again; the end of its log:" >&2
sudo tail -n 50 /var/log/cloud-init-output.log >&2 || true
exit 1
