#!/usr/bin/env bash
# Waits until cloud-init has prepared the host (prepare-host.sh wrote its marker), or fails with why.
set -euo pipefail

ready_marker=/var/lib/llm-observability/host-ready
deadline=$((SECONDS + 1200))

until [ -f "$ready_marker" ]; do
  if [ "$(cloud-init status 2>/dev/null | awk '/^status:/ {print $2}')" = "error" ]; then
    echo "cloud-init failed on the host; its log follows." >&2
    sudo tail -n 50 /var/log/cloud-init-output.log >&2 || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "the host was not ready after 20 minutes; see /var/log/cloud-init-output.log" >&2
    exit 1
  fi
  sleep 5
done
echo "host ready since $(cat "$ready_marker")"
