#!/usr/bin/env bash
# After `pulumi destroy`: lists the EBS volumes still tagged with the stack and unattached
# (status `available`), which cost money and nobody deletes. What a keepData stack keeps on purpose (its
# data volume, its retained claims' volumes) is reported, not counted. Exits 1 when any other volume is left. With GITHUB_STEP_SUMMARY
# set (in CI), writes the result to the run's summary too.
# Usage: scripts/check-leftover-volumes.sh STACK
set -euo pipefail
cd "$(dirname "$0")/.."

stack="${1:?usage: scripts/check-leftover-volumes.sh STACK}"
project=llm-observability
kept_tag="${project}/data-volume"
region="$(pulumi config get aws:region --stack "$stack")"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
keep_data="$(pulumi config get keepData --stack "$stack" 2>/dev/null || true)"

# One line per volume: id, then the key of the data-volume tag when it has one ("None" otherwise).
volumes="$(aws ec2 describe-volumes --region "$region" \
  --filters "Name=status,Values=available" "Name=tag:Project,Values=${project}" "Name=tag:Stack,Values=${stack}" \
  --query "Volumes[].[VolumeId, Tags[?Key=='${kept_tag}'] | [0].Key]" --output text)"

left=()
kept=()
while read -r volume_id kept_key; do
  [ -n "$volume_id" ] || continue
  if [ "$kept_key" = "$kept_tag" ] || [ "$keep_data" = true ]; then
    kept+=("$volume_id")
  else
    left+=("$volume_id")
  fi
done <<<"$volumes"

{
  echo "### EBS volumes left by stack \`${stack}\`"
  if [ "${#kept[@]}" -gt 0 ]; then
    echo "Kept on purpose (keepData): ${kept[*]}"
  fi
  if [ "${#left[@]}" -gt 0 ]; then
    echo "**Left behind, unattached and still billed:** ${left[*]} — delete them with \`aws ec2 delete-volume --volume-id <id>\` once their data is not needed."
  else
    echo "None left behind."
  fi
} | tee -a "$summary"
[ "${#left[@]}" -eq 0 ]
