#!/bin/bash
# First-boot setup of a Prometheus node. Any failure stops the boot with an error in cloud-init's log.
set -euo pipefail

arch='amd64'
bin_dir='/usr/local/bin'
release_base_url='https://github.com/prometheus'

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
  (cd "$work" && grep " $name.tar.gz\$" sha256sums.txt | sha256sum --check --strict -)
  if [ -n "$pinned" ]; then
    echo "$pinned  $work/$name.tar.gz" | sha256sum --check --strict -
  fi
  tar -xzf "$work/$name.tar.gz" -C "$work"
  find "$work/$name" -maxdepth 1 -type f -perm -u+x -exec install -m 0755 -o root -g root {} "$bin_dir/" \;
  rm -rf "$work"
}

for user in prometheus node_exporter; do
  id -u "$user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
done
install -d -m 0755 -o node_exporter -g node_exporter '/var/lib/node_exporter/textfile'

# The journal leaves the instance from here on, whatever fails next.
/usr/local/sbin/platform-journal-shipper --check --config /etc/platform/journal-shipper.json
systemctl daemon-reload
systemctl enable --now platform-journal-shipper.service

'/usr/local/sbin/install-ssm-agent.sh'

'/usr/local/sbin/mount-prometheus-data.sh'

install_release prometheus '3.5.3' ''
install_release node_exporter '1.9.1' ''

# The configuration set: retried while the instance role's credentials propagate.
for attempt in $(seq 12); do
  '/usr/local/sbin/sync-prometheus-config.sh' && break
  if [ "$attempt" -eq 12 ]; then
    echo "FATAL: no configuration set could be applied; not starting Prometheus" >&2
    exit 1
  fi
  sleep 5
done
/usr/local/bin/promtool check config /etc/prometheus/prometheus.yml
nginx -t -q
/usr/bin/prometheus-blackbox-exporter --config.check --config.file=/etc/prometheus/platform-blackbox.yml

systemctl daemon-reload
systemctl enable node_exporter.service prometheus.service prometheus-targets-sync.timer prometheus-config-sync.timer nginx.service prometheus-blackbox-exporter.service
systemctl restart node_exporter.service prometheus.service prometheus-targets-sync.timer prometheus-config-sync.timer nginx.service prometheus-blackbox-exporter.service
