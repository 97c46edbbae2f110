#!/usr/bin/env bash
# Hands each listed claim's directory on the data volume to the user its pods run as. MiniKube's
# hostpath volumes take no fsGroup, so a claim filled while its pods ran as another user (root, before
# the stack ran them as non-root users) would stay unwritable to them. A claim not provisioned yet is
# skipped; entries already owned right are left alone, so a rerun changes nothing.
# Usage: own-claims.sh NAMESPACE/CLAIM=UID:GID ...
set -euo pipefail

claims_dir="${CLAIMS_DIR:-/var/lib/llm-observability/data/hostpath-provisioner}"
claim_pattern='^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?=[0-9]+:[0-9]+$'

for claim in "$@"; do
  if [[ ! "$claim" =~ $claim_pattern ]]; then
    echo "own-claims: '${claim}' is not NAMESPACE/CLAIM=UID:GID" >&2
    exit 2
  fi
  path="${claim%%=*}"
  owner="${claim#*=}"
  uid="${owner%%:*}"
  gid="${owner#*:}"
  dir="${claims_dir}/${path}"
  if [ ! -d "$dir" ]; then
    echo "claim ${path}: not provisioned yet"
    continue
  fi
  changed="$(sudo find "$dir" -xdev \( ! -uid "$uid" -o ! -gid "$gid" \) -print -exec chown -h "$owner" {} + | wc -l)"
  echo "claim ${path}: ${changed} entries handed to ${owner}"
done
