#!/bin/bash
# Mounts the Prometheus data volume vol-00000000000000000 at /mnt.
# Fails loudly after 300s rather than let Prometheus write to the root disk.
set -euo pipefail

volume_id='vol-00000000000000000'
mount_point='/mnt'
data_dir='/mnt/prometheus'
wait_seconds=300
device_link='/dev/disk/by-id'/nvme-Amazon_Elastic_Block_Store_${volume_id//-/}

waited=0
until [ -e "$device_link" ]; do
  if [ "$waited" -ge "$wait_seconds" ]; then
    echo "FATAL: data volume $volume_id is not attached after ${wait_seconds}s; not starting Prometheus" >&2
    logger -p user.crit -t prometheus-data "data volume $volume_id missing after ${wait_seconds}s" || true
    exit 1
  fi
  sleep 5
  waited=$((waited + 5))
done
device=$(readlink -f "$device_link")

# blkid -p exits 2 only when the device holds no filesystem: format then, never otherwise.
probe=0
blkid -p "$device" >/dev/null 2>&1 || probe=$?
if [ "$probe" -eq 2 ]; then
  mkfs.ext4 -q -L prometheus-data "$device"
elif [ "$probe" -ne 0 ]; then
  echo "FATAL: cannot probe $device (blkid exit $probe); refusing to format it" >&2
  exit 1
fi

uuid=$(blkid -s UUID -o value "$device")
if ! grep -q "^UUID=$uuid " /etc/fstab; then
  echo "UUID=$uuid $mount_point ext4 defaults,nofail,x-systemd.device-timeout=30s 0 2" >> /etc/fstab
fi
mkdir -p "$mount_point"
mountpoint -q "$mount_point" || mount "$mount_point"
mkdir -p "$data_dir"
chown prometheus:prometheus "$data_dir"
echo "data volume $volume_id ($device) mounted at $mount_point"
