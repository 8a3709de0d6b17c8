// Pure renderers of a node's configuration set (prometheus.yml, rule files, htpasswd), the
// manifest that makes it one unit, and the script that fetches, checks and applies it.
import * as crypto from "crypto";
import { S3_ENDPOINT_OVERRIDE, shellQuote } from "./nodeScripts";

/** The object written last: the set's revision and every file's checksum. */
export const MANIFEST = "MANIFEST";
export const CONFIG_FILE = "prometheus.yml";
export const HTPASSWD_FILE = "htpasswd";
export const RULES_PREFIX = "rules/";
/** A tenant's rule file is tenant-<name>.yml; promtool refusing one holds back that file only. */
export const TENANT_RULE_FILE_PREFIX = "tenant-";
const RULE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\.yml$/;

export interface NodeConfigInput {
    prometheusYml: string;
    /** Rule file name (e.g. platform.yml) to content. */
    ruleFiles: Record<string, string>;
    htpasswd: string;
}

/** A node's set as path (relative to its prefix) to content, in a fixed order. */
export function nodeConfigFiles(input: NodeConfigInput): Record<string, string> {
    const names = Object.keys(input.ruleFiles).sort();
    const bad = names.filter((name) => !RULE_FILE_NAME.test(name));
    if (bad.length > 0) {
        throw new Error(`rule file names must be plain *.yml names: ${bad.join(", ")}`);
    }
    return {
        [CONFIG_FILE]: input.prometheusYml,
        ...Object.fromEntries(names.map((name) => [`${RULES_PREFIX}${name}`, input.ruleFiles[name]])),
        [HTPASSWD_FILE]: input.htpasswd,
    };
}

function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * One revision for the whole platform: every node's set hashed together, so the nodes can be
 * compared (each node's prometheus.yml differs by its replica label).
 */
export function configRevision(sets: Record<string, Record<string, string>>): string {
    const lines = Object.keys(sets).sort().flatMap((node) =>
        Object.keys(sets[node]).sort().map((file) => `${node}/${file} ${sha256(sets[node][file])}`));
    return sha256(lines.join("\n")).slice(0, 16);
}

/** `revision <r>` then sha256sum lines: what the node checks the fetched files against. */
export function renderManifest(revision: string, files: Record<string, string>): string {
    return [`revision ${revision}`, ...Object.entries(files).map(([file, content]) => `${sha256(content)}  ${file}`)].join("\n") + "\n";
}

export interface ConfigSyncScriptInput {
    bucket: string;
    /** The node's prefix in the bucket, e.g. prom-1/. */
    prefix: string;
    region: string;
    endpointUrl?: string;
    /** Fetched copy, candidate and last good set, and the state the metrics are written from. */
    stateDir: string;
    textfileDir: string;
    promtool: string;
    configFile: string;
    rulesDir: string;
    htpasswdFile: string;
    /** Group that may read the htpasswd file (nginx's workers). */
    htpasswdGroup: string;
    /** Where the node's own Prometheus answers, for its reload metrics. */
    prometheusUrl: string;
    /** Seconds a reload may take before it counts as failed. */
    reloadTimeoutSeconds: number;
}

/** The sync's helpers: its metrics for node_exporter, a failure or refusal, installing a set, a confirmed reload. */
const CONFIG_SYNC_FUNCTIONS = `write_metrics() {
  local out="$textfile_dir/.platform_node_config.prom.tmp" applied refused
  applied=$(state applied-revision "")
  refused=$(state refused-revision "")
  {
    echo '# HELP platform_node_config_applied_info The configuration revision this node runs.'
    echo '# TYPE platform_node_config_applied_info gauge'
    [ -z "$applied" ] || echo "platform_node_config_applied_info{revision=\\"$applied\\"} 1"
    echo '# HELP platform_node_config_applied_timestamp_seconds When this node last applied a new revision.'
    echo '# TYPE platform_node_config_applied_timestamp_seconds gauge'
    echo "platform_node_config_applied_timestamp_seconds $(state applied-at 0)"
    echo '# HELP platform_node_config_fetch_success_timestamp_seconds When this node last fetched a complete set.'
    echo '# TYPE platform_node_config_fetch_success_timestamp_seconds gauge'
    echo "platform_node_config_fetch_success_timestamp_seconds $(state fetched-at 0)"
    echo '# HELP platform_node_config_apply_successful 0 while the newest fetched revision is refused.'
    echo '# TYPE platform_node_config_apply_successful gauge'
    if [ -n "$refused" ]; then
      echo 'platform_node_config_apply_successful 0'
    else
      echo 'platform_node_config_apply_successful 1'
    fi
    echo '# HELP platform_node_config_failure_timestamp_seconds When a fetch, check or reload last failed, by stage.'
    echo '# TYPE platform_node_config_failure_timestamp_seconds gauge'
    for stage in fetch manifest config rules htpasswd reload; do
      echo "platform_node_config_failure_timestamp_seconds{stage=\\"$stage\\"} $(state "failed-$stage-at" 0)"
    done
    echo '# HELP platform_node_config_rule_file_held A tenant rule file promtool refused: the node runs its last good version, or none.'
    echo '# TYPE platform_node_config_rule_file_held gauge'
    for name in $(state held-rule-files ""); do
      echo "platform_node_config_rule_file_held{file=\\"$name\\"} 1"
    done
    if [ -n "$refused" ]; then
      echo '# HELP platform_node_config_refused_info The revision this node refused, and the check that refused it.'
      echo '# TYPE platform_node_config_refused_info gauge'
      echo "platform_node_config_refused_info{revision=\\"$refused\\",stage=\\"$(state refused-stage "")\\"} 1"
    fi
  } > "$out"
  mv "$out" "$textfile_dir/platform_node_config.prom"
}

# failed STAGE MESSAGE: a fetch problem (retried next run) or, with REVISION set, a refusal.
failed() {
  set_state "failed-$1-at" "$(date +%s)"
  if [ -n "\${revision:-}" ]; then
    set_state refused-revision "$revision"
    set_state refused-stage "$1"
  fi
  write_metrics
  echo "prometheus-config: $2" >&2
  exit 1
}

# install_set DIR: puts a checked set where Prometheus and nginx read it.
install_set() {
  mkdir -p "$(dirname "$config_file")" "$rules_dir"
  install -m 0644 "$1/prometheus.yml" "$config_file"
  rsync --recursive --checksum --delete --include='*.yml' --exclude='*' "$1/rules/" "$rules_dir/"
  install -m 0640 -o root -g "$htpasswd_group" "$1/htpasswd" "$htpasswd_file"
}

reload_metric() {
  curl --silent --max-time 2 "$prometheus_url/metrics" | sed -n "s/^$1 //p"
}

# reload: SIGHUP, then wait until Prometheus reports the outcome. Returns 1 if it refused.
reload() {
  local before after
  before=$(reload_metric prometheus_config_last_reload_success_timestamp_seconds)
  reload_prometheus
  for _ in $(seq $((reload_timeout * 5))); do
    sleep 0.2
    if [ "$(reload_metric prometheus_config_last_reload_successful)" = 0 ]; then
      return 1
    fi
    after=$(reload_metric prometheus_config_last_reload_success_timestamp_seconds)
    if [ -n "$after" ] && [ "$after" != "$before" ]; then
      return 0
    fi
  done
  return 1
}

`;

/** One run: fetch, match the manifest, check with promtool, install, reload, or keep the last good set. */
const CONFIG_SYNC_RUN = `endpoint_args=()
if [ -n "$endpoint" ]; then
  endpoint_args=(--endpoint-url "$endpoint")
fi
aws "\${endpoint_args[@]}" --region "$region" s3 sync --delete --exact-timestamps --only-show-errors \\
  "s3://$bucket/$prefix" "$fetched/" || failed fetch "cannot fetch s3://$bucket/$prefix"
[ -s "$fetched/${MANIFEST}" ] || failed fetch "s3://$bucket/$prefix holds no ${MANIFEST}"
# The manifest is written last: a set caught mid-update does not match it and waits for the next run.
(cd "$fetched" && grep -v '^revision ' ${MANIFEST} | sha256sum --check --strict --quiet) \\
  || failed manifest "s3://$bucket/$prefix does not match its ${MANIFEST} (an update in progress, or a hand edit)"
set_state fetched-at "$(date +%s)"
revision=$(sed -n 's/^revision \\([0-9a-f]\\{1,64\\}\\)$/\\1/p' "$fetched/${MANIFEST}")
[ -n "$revision" ] || failed manifest "${MANIFEST} names no revision"

if [ "$revision" = "$(state applied-revision "")" ]; then
  rm -f "$state_dir/refused-revision"
  write_metrics
  exit 0
fi

# Only the files the manifest lists make the candidate.
rm -rf "$candidate"
mkdir -p "$candidate/rules"
grep -v '^revision ' "$fetched/${MANIFEST}" | sed 's/^[0-9a-f]*  //' | while read -r file; do
  case "$file" in
    prometheus.yml|htpasswd) cp "$fetched/$file" "$candidate/$file" ;;
    rules/*.yml) cp "$fetched/$file" "$candidate/rules/\${file#rules/}" ;;
    *) echo "prometheus-config: ignoring $file, not part of a node's set" >&2 ;;
  esac
done
[ -s "$candidate/prometheus.yml" ] || failed config "revision $revision has no prometheus.yml"
[ -s "$candidate/htpasswd" ] || failed htpasswd "revision $revision has no htpasswd"

"$promtool" check config --syntax-only "$candidate/prometheus.yml" >&2 \\
  || failed config "promtool refused prometheus.yml of revision $revision; keeping $(state applied-revision none)"
shopt -s nullglob
# A tenant's file that promtool refuses waits alone: its last good version (or none) takes its
# place, and the platform's rules and every other tenant's apply.
held=()
for file in "$candidate"/rules/${TENANT_RULE_FILE_PREFIX}*.yml; do
  if ! "$promtool" check rules "$file" >&2; then
    name=\${file##*/}
    held+=("$name")
    if [ -s "$good/rules/$name" ]; then
      cp "$good/rules/$name" "$file"
    else
      rm -f "$file"
    fi
    echo "prometheus-config: promtool refused rules/$name of revision $revision; keeping its last good version" >&2
  fi
done
rule_files=("$candidate"/rules/*.yml)
if [ \${#rule_files[@]} -gt 0 ]; then
  "$promtool" check rules "\${rule_files[@]}" >&2 \\
    || failed rules "promtool refused the rules of revision $revision; keeping $(state applied-revision none)"
fi
# shellcheck disable=SC2016 # the $ signs are bcrypt's own
bcrypt_line='^[A-Za-z0-9._-]+:\\$2[aby]\\$[0-9]{2}\\$[./A-Za-z0-9]{53}$'
if grep -qvE "$bcrypt_line" "$candidate/htpasswd"; then
  failed htpasswd "htpasswd of revision $revision holds a line that is not user:bcrypt; keeping $(state applied-revision none)"
fi

install_set "$candidate"
if prometheus_running && ! reload; then
  # Prometheus refused what promtool accepted: put the last good set back and reload that.
  if [ -s "$good/prometheus.yml" ]; then
    install_set "$good"
    reload || echo "prometheus-config: the last good set did not reload either" >&2
  fi
  failed reload "Prometheus refused revision $revision on reload; back on $(state applied-revision none)"
fi
rm -rf "$good"
cp -a "$candidate" "$good"
set_state applied-revision "$revision"
set_state applied-at "$(date +%s)"
set_state held-rule-files "\${held[*]}"
rm -f "$state_dir/refused-revision" "$state_dir/refused-stage"
write_metrics
echo "prometheus-config: applied revision $revision\${held[*]:+, holding back \${held[*]}}"
`;

/**
 * Fetches the node's set, applies it only when the manifest matches every file and promtool
 * accepts it (a tenant's rule file it refuses is held back alone, at its last good version), reloads Prometheus (SIGHUP through systemd) and confirms the reload from
 * Prometheus's own metrics. A refused set leaves the last good one in place. What happened is
 * written for node_exporter's textfile collector.
 */
export function renderConfigSyncScript(input: ConfigSyncScriptInput): string {
    return `#!/bin/bash
# Applies s3://${input.bucket}/${input.prefix} to this node: ${input.configFile}, ${input.rulesDir}/, ${input.htpasswdFile}.
set -euo pipefail
umask 022

bucket=${shellQuote(input.bucket)}
prefix=${shellQuote(input.prefix)}
region=${shellQuote(input.region)}
endpoint=\${${S3_ENDPOINT_OVERRIDE}:-${shellQuote(input.endpointUrl ?? "")}}
state_dir=${shellQuote(input.stateDir)}
textfile_dir=${shellQuote(input.textfileDir)}
promtool=${shellQuote(input.promtool)}
config_file=${shellQuote(input.configFile)}
rules_dir=${shellQuote(input.rulesDir)}
htpasswd_file=${shellQuote(input.htpasswdFile)}
htpasswd_group=${shellQuote(input.htpasswdGroup)}
prometheus_url=${shellQuote(input.prometheusUrl)}
reload_timeout=${input.reloadTimeoutSeconds}

fetched="$state_dir/fetched"
candidate="$state_dir/candidate"
good="$state_dir/good"
mkdir -p "$fetched" "$good" "$textfile_dir"

prometheus_running() { systemctl is-active --quiet prometheus.service; }
reload_prometheus() { systemctl reload prometheus.service; }

state() { cat "$state_dir/$1" 2>/dev/null || echo "$2"; }
set_state() { printf '%s\\n' "$2" > "$state_dir/$1.tmp" && mv "$state_dir/$1.tmp" "$state_dir/$1"; }

${CONFIG_SYNC_FUNCTIONS}${CONFIG_SYNC_RUN}`;
}
