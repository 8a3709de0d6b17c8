#!/bin/bash
# Syncs s3://targets-2e2a909/ into /etc/prometheus/targets for Prometheus file_sd.
set -euo pipefail

bucket='targets-2e2a909'
region='eu-west-1'
targets_dir='/etc/prometheus/targets'
staging_dir='/var/lib/prometheus-targets'

endpoint=${S3_ENDPOINT_URL:-''}
endpoint_args=()
if [ -n "$endpoint" ]; then
  endpoint_args=(--endpoint-url "$endpoint")
fi

mkdir -p "$staging_dir" "$targets_dir"
aws "${endpoint_args[@]}" --region "$region" s3 sync --delete --exact-timestamps --only-show-errors \
  "s3://$bucket/" "$staging_dir/"
rsync --recursive --times --delete --delay-updates --include='*/' --include='*.json' --exclude='*' \
  "$staging_dir/" "$targets_dir/"

# Each tenant's and region's newest target file (files keep the objects' S3 modification times):
# a broker that stopped registering shows as a file that stopped changing.
textfile_dir='/var/lib/node_exporter/textfile'
mkdir -p "$textfile_dir"
{
  echo '# HELP platform_targets_newest_file_timestamp_seconds When the newest target file under a prefix was written.'
  echo '# TYPE platform_targets_newest_file_timestamp_seconds gauge'
  for dir in "$targets_dir"/tenants/*/*/; do
    [ -d "$dir" ] || continue
    region=$(basename "$dir")
    tenant=$(basename "$(dirname "$dir")")
    newest=$(find "$dir" -maxdepth 1 -name '*.json' -printf '%T@\n' | sort -n | tail -n 1)
    echo "platform_targets_newest_file_timestamp_seconds{prefix=\"tenants/$tenant/$region\"} ${newest:-0}"
  done
  # The discovery function rewrites a region's and source's status object at each success.
  echo '# HELP platform_discovery_last_success_timestamp_seconds When the discovery of a region and source last succeeded.'
  echo '# TYPE platform_discovery_last_success_timestamp_seconds gauge'
  for file in "$targets_dir"/'discovery/status'/*.json; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .json)
    echo "platform_discovery_last_success_timestamp_seconds{region=\"${name%-*}\",source=\"${name##*-}\"} $(stat -c %Y "$file")"
  done
} > "$textfile_dir/.platform_targets.prom.tmp"
mv "$textfile_dir/.platform_targets.prom.tmp" "$textfile_dir/platform_targets.prom"
