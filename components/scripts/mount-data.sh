#!/usr/bin/env bash
# Mounts the stack's data volume (an EBS volume that outlives the host) and keeps it mounted across
# reboots. Formats it only the first time any host sees it: a replacement host finds the data as the
# old one left it. MiniKube's hostpath volumes live in its hostpath-provisioner directory.
# Usage: mount-data.sh VOLUME_ID
set -euo pipefail

volume_id="$1"
mount_point=/var/lib/llm-observability/data
# Nitro instances show an EBS volume as an NVMe device whose serial is the volume id without its dash.
device="/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volume_id//-/}"

deadline=$((SECONDS + 300))
until [ -e "$device" ]; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "data volume ${volume_id} is not attached after 5 minutes (no ${device})" >&2
    exit 1
  fi
  sleep 5
done

if ! sudo blkid "$device" >/dev/null 2>&1; then
  echo "data volume ${volume_id} is blank: formatting it (first host only)"
  sudo mkfs.ext4 -q -L llmobs-data "$device"
fi
uuid="$(sudo blkid -s UUID -o value "$device")"
sudo mkdir -p "$mount_point"
if ! grep -q "^UUID=${uuid} " /etc/fstab; then
  # nofail: a host whose volume is missing still boots, and MiniKube's unit then refuses to start.
  echo "UUID=${uuid} ${mount_point} ext4 defaults,nofail,x-systemd.device-timeout=120 0 2" \
    | sudo tee -a /etc/fstab >/dev/null
  sudo systemctl daemon-reload
fi
mountpoint -q "$mount_point" || sudo mount "$mount_point"
sudo mkdir -p "$mount_point/hostpath-provisioner"
echo "data volume ${volume_id} mounted at ${mount_point} ($(df -h --output=used,size "$mount_point" | tail -n 1 | xargs) used)"
