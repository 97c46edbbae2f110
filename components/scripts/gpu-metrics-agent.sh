#!/usr/bin/env bash
# Installs the pinned CloudWatch agent (checked against its pinned SHA-256) and has it publish the
# GPUs' utilisation, the idle guard's signal, once a minute.
# Usage: gpu-metrics-agent.sh AGENT_URL AGENT_SHA256 CONFIG_JSON
set -euo pipefail

agent_url="$1"
agent_sha256="$2"
config_json="$3"
config_file=/opt/aws/amazon-cloudwatch-agent/etc/llm-observability-gpu.json

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 5 -o "$tmp/amazon-cloudwatch-agent.deb" "$agent_url"
echo "${agent_sha256}  $tmp/amazon-cloudwatch-agent.deb" | sha256sum --check --status
sudo dpkg -i "$tmp/amazon-cloudwatch-agent.deb" >/dev/null
sudo mkdir -p "$(dirname "$config_file")"
printf '%s\n' "$config_json" | sudo tee "$config_file" >/dev/null
# -s starts the agent and enables it at boot, so a restarted host reports again by itself.
sudo /opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c "file:${config_file}"
