#!/usr/bin/env bash
# Prints a Python interpreter of version 3.12 or newer (Llama Stack's client needs it), or fails saying so.
set -euo pipefail

candidates=(python3 python3.13 python3.12)
if command -v pyenv >/dev/null 2>&1; then
  for dir in "$(pyenv root)"/versions/3.1[2-9]*; do
    [ -x "$dir/bin/python3" ] && candidates+=("$dir/bin/python3")
  done
fi
for python in "${candidates[@]}"; do
  if "$python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
    command -v "$python"
    exit 0
  fi
done
echo "Python 3.12 or newer is needed (found none among: ${candidates[*]}); install it and retry." >&2
exit 1
