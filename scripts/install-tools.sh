#!/usr/bin/env bash
# Installs the real binaries the tests check rendered configs with, and the rehearsals run:
#  - from Debian's stable suite, system-wide: nginx, cloud-init, shellcheck, awscli, apache2-utils,
#    rsync, gnupg, debootstrap and systemd-nspawn (the first-boot rehearsal), openssl, the
#    blackbox exporter the nodes probe with, and what the journal shipper runs with and is tested
#    on (python3-systemd, python3-botocore, systemd-journal-remote, pyflakes3);
#  - from Debian 13, into a root of its own under tools/moto: moto, the AWS emulator the tests run
#    the nodes', the shipper's and the discovery function's calls against;
#  - from Debian sid, unpacked into tools/debian/ (not installed system-wide): prometheus + promtool,
#    alertmanager + amtool, whose minor versions must equal the ones the stacks deploy, and
#    node_exporter.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/tools"
apt_dir="$tools/apt"
unpacked="$tools/debian"

if [ "$(id -u)" -ne 0 ]; then
  echo "install-tools: run as root (apt-get install)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  nginx-light cloud-init shellcheck awscli apache2-utils rsync curl wget ca-certificates systemd gnupg gpgv \
  debootstrap systemd-container openssl prometheus-blackbox-exporter \
  python3-systemd python3-botocore systemd-journal-remote pyflakes3 postgresql >/dev/null
# The tests run nginx, the blackbox exporter and PostgreSQL themselves; the packages' own services are not wanted.
for service in nginx prometheus-blackbox-exporter postgresql; do
  systemctl disable --now "$service" >/dev/null 2>&1 || service "$service" stop >/dev/null 2>&1 || true
done

# Sid's packages through a private apt state, leaving the system's sources alone, from the
# Debian mirror this machine's own apt configuration uses.
# shellcheck disable=SC2016 # apt's own format placeholders
mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' | grep -v -- '-security/$' | head -n 1)
if [ -z "$mirror" ]; then
  echo "install-tools: no Debian mirror in this machine's apt sources" >&2
  exit 1
fi
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$unpacked"
cat > "$apt_dir/sid.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: sid
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_opts=(
  -o "Dir::Etc::SourceList=$apt_dir/sid.sources"
  -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Get::List-Cleanup=0"
  -o "APT::Sandbox::User=root"
)
apt-get "${apt_opts[@]}" update -qq
(
  cd "$apt_dir/cache/archives"
  rm -f ./*.deb
  apt-get "${apt_opts[@]}" download prometheus promtool prometheus-alertmanager prometheus-node-exporter >/dev/null
  for deb in ./*.deb; do dpkg-deb -x "$deb" "$unpacked"; done
)

# Debian's alertmanager reads its default notification templates from a fixed path. A copy, not
# a link into this checkout: another checkout running this script, then removed, must not leave
# this one's alertmanager without its templates. A directory the package installed is left alone.
templates=/usr/share/prometheus/alertmanager
marker="$templates/.copied-by-install-tools"
if [ -L "$templates" ] || [ ! -e "$templates" ] || [ -e "$marker" ]; then
  rm -rf "$templates"
  mkdir -p "$templates"
  cp -R "$unpacked/usr/share/prometheus/alertmanager/." "$templates/"
  touch "$marker"
fi

# The minors the stacks deploy, read from the environments.
deployed_minor() { # KEY: prometheus.version or alertmanager.version
  node -e '
    const yaml = require("js-yaml"); const fs = require("fs");
    const [section, field] = process.argv[1].split(".");
    const minors = new Set(["dev", "staging", "production"].map((s) => {
      const env = yaml.load(fs.readFileSync(`environments/${s}.yaml`, "utf8"));
      return String(env[section][field]).split(".").slice(0, 2).join(".");
    }));
    if (minors.size !== 1) { console.error(`stacks deploy different minors of ${process.argv[1]}: ${[...minors]}`); process.exit(1); }
    console.log([...minors][0]);
  ' "$1"
}

check_minor() { # NAME BINARY KEY
  local name=$1 binary=$2 key=$3 got want
  got=$("$binary" --version 2>&1 | sed -n 's/.*version \([0-9]*\.[0-9]*\)\..*/\1/p' | head -n 1)
  want=$(deployed_minor "$key")
  if [ "$got" != "$want" ]; then
    echo "install-tools: $name $got does not match the deployed $want ($key); the checks would test another version" >&2
    exit 1
  fi
  echo "install-tools: $name $("$binary" --version 2>&1 | head -n 1)"
}

check_minor promtool "$unpacked/usr/bin/promtool" prometheus.version
check_minor prometheus "$unpacked/usr/bin/prometheus" prometheus.version
if grep -q "^alertmanager:" environments/dev.yaml; then
  check_minor amtool "$unpacked/usr/bin/amtool" alertmanager.version
  check_minor alertmanager "$unpacked/usr/bin/prometheus-alertmanager" alertmanager.version
fi
# moto, the AWS emulator, as Debian 13 packages it, in a root of its own under tools/moto (run with
# chroot): the host's Python and packages are left alone. Rebuilt when missing or not 5.1.1.
moto_root="$tools/moto"
moto_version() { dpkg-query --admindir="$moto_root/var/lib/dpkg" -W -f='${Version}' python3-moto 2>/dev/null || true; }
case "$(moto_version)" in
  5.1.1-*) ;;
  *)
    rm -rf "$moto_root" "$moto_root.part"
    debootstrap --variant=minbase --include=python3-cffi-backend,python3-moto,python3-flask,python3-flask-cors \
      trixie "$moto_root.part" "$mirror" >/dev/null
    rm -f "$moto_root.part"/var/cache/apt/archives/*.deb
    mv "$moto_root.part" "$moto_root"
    ;;
esac
case "$(moto_version)" in
  5.1.1-*) echo "install-tools: moto $(moto_version) (Debian 13's python3-moto) in tools/moto" ;;
  *) echo "install-tools: tools/moto holds python3-moto '$(moto_version)', not Debian 13's 5.1.1" >&2; exit 1 ;;
esac

for tool in nginx cloud-init shellcheck aws htpasswd rsync systemd-analyze gpg gpgv debootstrap systemd-nspawn openssl prometheus-blackbox-exporter; do
  command -v "$tool" >/dev/null || { echo "install-tools: $tool missing after install" >&2; exit 1; }
done
echo "install-tools: done; project binaries in tools/debian/usr/bin"
