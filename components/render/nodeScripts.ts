// Pure renderers of the shell scripts and systemd units a Prometheus node runs.

/** Quotes a value for a POSIX shell: single quotes, embedded ones escaped. */
export function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'"'"'`)}'`;
}

export const NODE_PATHS = {
    configDir: "/etc/prometheus",
    rulesDir: "/etc/prometheus/rules",
    targetsDir: "/etc/prometheus/targets",
    targetsStagingDir: "/var/lib/prometheus-targets",
    dataMount: "/mnt",
    dataDir: "/mnt/prometheus",
    scriptsDir: "/usr/local/sbin",
    binDir: "/usr/local/bin",
    /** The configuration set as fetched, checked and last applied, and what the metrics report. */
    configStateDir: "/var/lib/prometheus-config",
    /** node_exporter's textfile collector: what the node's own scripts report. */
    textfileDir: "/var/lib/node_exporter/textfile",
} as const;

/** Overrides the S3 endpoint of the node's scripts when set (a local S3 in rehearsals and benchmarks). */
export const S3_ENDPOINT_OVERRIDE = "S3_ENDPOINT_URL";

export interface MountScriptInput {
    volumeId: string;
    mountPoint: string;
    dataDir: string;
    waitSeconds: number;
    /** Where udev links NVMe EBS volumes by serial; a parameter so tests can point it at a temp dir. */
    deviceDir?: string;
}

/** Waits a bounded time for the volume named by its ID, formats it only if blank, mounts it. */
export function renderMountScript(input: MountScriptInput): string {
    const deviceDir = input.deviceDir ?? "/dev/disk/by-id";
    return `#!/bin/bash
# Mounts the Prometheus data volume ${input.volumeId} at ${input.mountPoint}.
# Fails loudly after ${input.waitSeconds}s rather than let Prometheus write to the root disk.
set -euo pipefail

volume_id=${shellQuote(input.volumeId)}
mount_point=${shellQuote(input.mountPoint)}
data_dir=${shellQuote(input.dataDir)}
wait_seconds=${input.waitSeconds}
device_link=${shellQuote(deviceDir)}/nvme-Amazon_Elastic_Block_Store_\${volume_id//-/}

waited=0
until [ -e "$device_link" ]; do
  if [ "$waited" -ge "$wait_seconds" ]; then
    echo "FATAL: data volume $volume_id is not attached after \${wait_seconds}s; not starting Prometheus" >&2
    logger -p user.crit -t prometheus-data "data volume $volume_id missing after \${wait_seconds}s" || true
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
`;
}

export interface SyncScriptInput {
    bucket: string;
    region: string;
    /** An S3 endpoint other than the region's own (a local S3 in rehearsals). */
    endpointUrl?: string;
    targetsDir: string;
    stagingDir: string;
    /** Where the age of each tenant's newest target file is reported (node_exporter's textfile collector). */
    textfileDir: string;
    /** Relative to targetsDir: the discovery function's status objects, <region>-<source>.json. */
    discoveryStatusDir: string;
}

/**
 * Mirrors the targets bucket into the file_sd directory. Objects land in a staging copy first and
 * reach Prometheus by rename, so it never reads a half-written file; removed objects disappear.
 * S3_ENDPOINT_URL in the environment overrides the S3 endpoint (a local S3 in the loopback rehearsal).
 */
export function renderSyncScript(input: SyncScriptInput): string {
    return `#!/bin/bash
# Syncs s3://${input.bucket}/ into ${input.targetsDir} for Prometheus file_sd.
set -euo pipefail

bucket=${shellQuote(input.bucket)}
region=${shellQuote(input.region)}
targets_dir=${shellQuote(input.targetsDir)}
staging_dir=${shellQuote(input.stagingDir)}

${s3EndpointArgs(input.endpointUrl)}
mkdir -p "$staging_dir" "$targets_dir"
aws "\${endpoint_args[@]}" --region "$region" s3 sync --delete --exact-timestamps --only-show-errors \\
  "s3://$bucket/" "$staging_dir/"
rsync --recursive --times --delete --delay-updates --include='*/' --include='*.json' --exclude='*' \\
  "$staging_dir/" "$targets_dir/"

# Each tenant's and region's newest target file (files keep the objects' S3 modification times):
# a broker that stopped registering shows as a file that stopped changing.
textfile_dir=${shellQuote(input.textfileDir)}
mkdir -p "$textfile_dir"
{
  echo '# HELP platform_targets_newest_file_timestamp_seconds When the newest target file under a prefix was written.'
  echo '# TYPE platform_targets_newest_file_timestamp_seconds gauge'
  for dir in "$targets_dir"/tenants/*/*/; do
    [ -d "$dir" ] || continue
    region=$(basename "$dir")
    tenant=$(basename "$(dirname "$dir")")
    newest=$(find "$dir" -maxdepth 1 -name '*.json' -printf '%T@\\n' | sort -n | tail -n 1)
    echo "platform_targets_newest_file_timestamp_seconds{prefix=\\"tenants/$tenant/$region\\"} \${newest:-0}"
  done
  # The discovery function rewrites a region's and source's status object at each success.
  echo '# HELP platform_discovery_last_success_timestamp_seconds When the discovery of a region and source last succeeded.'
  echo '# TYPE platform_discovery_last_success_timestamp_seconds gauge'
  for file in "$targets_dir"/${shellQuote(input.discoveryStatusDir)}/*.json; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .json)
    echo "platform_discovery_last_success_timestamp_seconds{region=\\"\${name%-*}\\",source=\\"\${name##*-}\\"} $(stat -c %Y "$file")"
  done
} > "$textfile_dir/.platform_targets.prom.tmp"
mv "$textfile_dir/.platform_targets.prom.tmp" "$textfile_dir/platform_targets.prom"
`;
}

/** `endpoint_args` for the awscli: the override from the environment, else the rendered endpoint, else none. */
function s3EndpointArgs(endpointUrl: string | undefined): string {
    return `endpoint=\${${S3_ENDPOINT_OVERRIDE}:-${shellQuote(endpointUrl ?? "")}}
endpoint_args=()
if [ -n "$endpoint" ]; then
  endpoint_args=(--endpoint-url "$endpoint")
fi
`;
}

/** The bootstrap's retry of a step that needs the instance role's credentials, and how often it tries. */
export const WHILE_CREDENTIALS_PROPAGATE = "while_credentials_propagate";
export const CREDENTIAL_TRIES = 12;

export interface BootstrapInput {
    /** The node's system set (every other script, unit and key), fetched first and checked against its sha256. */
    systemSet: { bucket: string; key: string; sha256: string; region: string; endpointUrl?: string };
    /** Where the release tarballs are, laid out as GitHub's: <base>/<project>/releases/download/v<version>/. */
    releaseBaseUrl: string;
    prometheusVersion: string;
    prometheusSha256?: string;
    nodeExporterVersion: string;
    nodeExporterSha256?: string;
    arch: "amd64" | "arm64";
    mountScriptPath: string;
    /** Checked and started before anything else, so the rest of the boot's journal leaves the instance even if it fails. */
    logShipper: { check: string; unit: string };
    /** Installs the verified SSM agent first, so a node that fails later can still be reached. */
    ssmAgentScriptPath: string;
    /** Fetches and applies the node's configuration set; the first one must arrive before anything starts. */
    configScriptPath: string;
    textfileDir: string;
    binDir: string;
    /** Commands that must accept the rendered configuration before anything starts. */
    checks: string[];
    /** systemd units to enable and (re)start once everything is in place. */
    services: string[];
}

/** Installs the pinned releases (checksums verified), mounts the data volume, starts the services. */
export function renderBootstrapScript(input: BootstrapInput): string {
    const release = (project: string, version: string, sha256: string | undefined) =>
        `install_release ${project} ${shellQuote(version)} ${shellQuote(sha256 ?? "")}`;
    return `#!/bin/bash
# First-boot setup of a Prometheus node. Any failure stops the boot with an error in cloud-init's log.
set -euo pipefail

arch=${shellQuote(input.arch)}
bin_dir=${shellQuote(input.binDir)}
release_base_url=${shellQuote(input.releaseBaseUrl)}

# install_release PROJECT VERSION PINNED_SHA256
# Downloads PROJECT's release tarball, checks it against the release's sha256sums.txt and, when
# the stack pins one, against PINNED_SHA256, then installs its binaries into bin_dir.
install_release() {
  local project=$1 version=$2 pinned=$3
  local name="$project-$version.linux-$arch"
  local base="$release_base_url/$project/releases/download/v$version"
  local work
  work=$(mktemp -d)
  curl --fail --silent --show-error --location --retry 5 -o "$work/$name.tar.gz" "$base/$name.tar.gz"
  curl --fail --silent --show-error --location --retry 5 -o "$work/sha256sums.txt" "$base/sha256sums.txt"
  (cd "$work" && grep " $name.tar.gz\\$" sha256sums.txt | sha256sum --check --strict -)
  if [ -n "$pinned" ]; then
    echo "$pinned  $work/$name.tar.gz" | sha256sum --check --strict -
  fi
  tar -xzf "$work/$name.tar.gz" -C "$work"
  find "$work/$name" -maxdepth 1 -type f -perm -u+x -exec install -m 0755 -o root -g root {} "$bin_dir/" \\;
  rm -rf "$work"
}

# ${WHILE_CREDENTIALS_PROPAGATE} WHAT COMMAND...
# Runs COMMAND until it succeeds, ${CREDENTIAL_TRIES} tries 5 s apart, while the instance role's
# credentials propagate; then stops the boot with "FATAL: WHAT".
${WHILE_CREDENTIALS_PROPAGATE}() {
  local what=$1 attempt
  shift
  for attempt in $(seq ${CREDENTIAL_TRIES}); do
    "$@" && return 0
    if [ "$attempt" -lt ${CREDENTIAL_TRIES} ]; then
      sleep 5
    fi
  done
  echo "FATAL: $what" >&2
  exit 1
}

for user in prometheus node_exporter; do
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
done
install -d -m 0755 -o node_exporter -g node_exporter ${shellQuote(input.textfileDir)}

# The system set: every other script, unit and key of the node, pinned by its sha256 here.
system_set=$(mktemp)
${s3EndpointArgs(input.systemSet.endpointUrl)}${WHILE_CREDENTIALS_PROPAGATE} "cannot fetch the system set s3://${input.systemSet.bucket}/${input.systemSet.key}" \\
  aws "\${endpoint_args[@]}" --region ${shellQuote(input.systemSet.region)} s3 cp --only-show-errors \\
  ${shellQuote(`s3://${input.systemSet.bucket}/${input.systemSet.key}`)} "$system_set"
if ! echo ${shellQuote(`${input.systemSet.sha256}`)}"  $system_set" | sha256sum --check --strict --quiet; then
  echo "FATAL: the system set s3://${input.systemSet.bucket}/${input.systemSet.key} does not match the sha256 this node was given" >&2
  exit 1
fi
python3 - "$system_set" <<'INSTALL'
import base64, json, os, shutil, sys
for f in json.load(open(sys.argv[1]))["files"]:
    os.makedirs(os.path.dirname(f["path"]), exist_ok=True)
    part = f["path"] + ".system-set"
    with open(part, "wb") as out:
        out.write(base64.b64decode(f["content"]))
    os.chmod(part, int(f["permissions"], 8))
    user, group = f["owner"].split(":")
    shutil.chown(part, user, group)
    os.replace(part, f["path"])
INSTALL
rm -f "$system_set"

# The journal leaves the instance from here on, whatever fails next.
${input.logShipper.check}
systemctl daemon-reload
systemctl enable --now ${input.logShipper.unit}

${shellQuote(input.ssmAgentScriptPath)}

${shellQuote(input.mountScriptPath)}

${release("prometheus", input.prometheusVersion, input.prometheusSha256)}
${release("node_exporter", input.nodeExporterVersion, input.nodeExporterSha256)}

${WHILE_CREDENTIALS_PROPAGATE} "no configuration set could be applied; not starting Prometheus" ${shellQuote(input.configScriptPath)}
${input.checks.join("\n")}

systemctl daemon-reload
systemctl enable ${input.services.join(" ")}
systemctl restart ${input.services.join(" ")}
`;
}

export interface PrometheusUnitInput {
    binDir: string;
    configDir: string;
    dataDir: string;
    port: number;
    externalUrl: string;
    retentionTime: string;
    retentionSize?: string;
    /** How often a firing alert is sent again (alerts sent before the Alertmanagers are found are lost until then). */
    alertResendDelay: string;
}

export function renderPrometheusUnit(input: PrometheusUnitInput): string {
    const flags = [
        `--config.file=${input.configDir}/prometheus.yml`,
        `--storage.tsdb.path=${input.dataDir}`,
        `--storage.tsdb.retention.time=${input.retentionTime}`,
        ...(input.retentionSize ? [`--storage.tsdb.retention.size=${input.retentionSize}`] : []),
        `--web.listen-address=0.0.0.0:${input.port}`,
        `--web.external-url=${input.externalUrl}`,
        `--rules.alert.resend-delay=${input.alertResendDelay}`,
        // No lifecycle or admin API: the node reloads with SIGHUP (systemctl reload), nobody can quit it over HTTP.
    ];
    return `[Unit]
Description=Prometheus
Wants=network-online.target
After=network-online.target
RequiresMountsFor=${input.dataDir}

[Service]
User=prometheus
Group=prometheus
ExecStart=${input.binDir}/prometheus \\
  ${flags.join(" \\\n  ")}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

export function renderNodeExporterUnit(binDir: string, port: number, textfileDir: string): string {
    return `[Unit]
Description=Prometheus node_exporter
Wants=network-online.target
After=network-online.target

[Service]
User=node_exporter
Group=node_exporter
ExecStart=${binDir}/node_exporter --web.listen-address=0.0.0.0:${port} --collector.textfile.directory=${textfileDir}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
`;
}

/** A oneshot service running a script, and the timer that runs it every interval. */
export function renderTimerUnits(description: string, scriptPath: string, intervalSeconds: number): { service: string; timer: string } {
    return {
        service: `[Unit]
Description=${description}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=${scriptPath}
TimeoutStartSec=${Math.max(intervalSeconds * 2, 30)}s
`,
        timer: `[Unit]
Description=${description} every ${intervalSeconds}s

[Timer]
OnBootSec=10s
OnUnitActiveSec=${intervalSeconds}s
AccuracySec=1s

[Install]
WantedBy=timers.target
`,
    };
}

export interface SsmAgentScriptInput {
    /** Where amazon-ssm-agent.deb and its .sig are served (AWS's regional bucket). */
    baseUrl: string;
    /** The signer's public key, binary (dearmored), as gpgv reads it. */
    keyringPath: string;
}

/**
 * Installs the SSM agent (Debian's AMIs have none) only when its package's detached signature
 * verifies against the pinned signer key; a bad or missing signature stops the boot.
 */
export function renderSsmAgentScript(input: SsmAgentScriptInput): string {
    return `#!/bin/bash
# Installs amazon-ssm-agent from ${input.baseUrl}, verified with gpgv against ${input.keyringPath}.
set -euo pipefail

base_url=${shellQuote(input.baseUrl)}
keyring=${shellQuote(input.keyringPath)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

curl --fail --silent --show-error --location --retry 5 -o "$work/amazon-ssm-agent.deb" "$base_url/amazon-ssm-agent.deb"
curl --fail --silent --show-error --location --retry 5 -o "$work/amazon-ssm-agent.deb.sig" "$base_url/amazon-ssm-agent.deb.sig"
# gpgv exits 0 on a good signature from an expired or revoked key: its status lines say which.
status=$(gpgv --status-fd 1 --keyring "$keyring" "$work/amazon-ssm-agent.deb.sig" "$work/amazon-ssm-agent.deb" 2>"$work/gpgv.log") || true
refused=$(grep -oE '^\\[GNUPG:\\] (EXPKEYSIG|REVKEYSIG|EXPSIG|BADSIG|ERRSIG|NO_PUBKEY)' <<<"$status" | cut -d' ' -f2 | sort -u | tr '\\n' ' ' || true)
if [ -n "$refused" ] || ! grep -qE '^\\[GNUPG:\\] GOODSIG ' <<<"$status" || ! grep -qE '^\\[GNUPG:\\] VALIDSIG ' <<<"$status"; then
  echo "FATAL: amazon-ssm-agent.deb from $base_url is not validly signed by the pinned SSM agent key (gpgv: \${refused:-no good signature}); not installing it" >&2
  cat "$work/gpgv.log" >&2
  exit 1
fi
dpkg -i "$work/amazon-ssm-agent.deb"
systemctl enable --now amazon-ssm-agent
`;
}
