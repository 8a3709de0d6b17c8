#!/bin/bash
# Installs amazon-ssm-agent from https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/debian_amd64, verified with gpgv against /usr/local/share/keyrings/amazon-ssm-agent.gpg.
set -euo pipefail

base_url='https://s3.eu-west-1.amazonaws.com/amazon-ssm-eu-west-1/latest/debian_amd64'
keyring='/usr/local/share/keyrings/amazon-ssm-agent.gpg'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

curl --fail --silent --show-error --location --retry 5 -o "$work/amazon-ssm-agent.deb" "$base_url/amazon-ssm-agent.deb"
curl --fail --silent --show-error --location --retry 5 -o "$work/amazon-ssm-agent.deb.sig" "$base_url/amazon-ssm-agent.deb.sig"
if ! gpgv --keyring "$keyring" "$work/amazon-ssm-agent.deb.sig" "$work/amazon-ssm-agent.deb"; then
  echo "FATAL: amazon-ssm-agent.deb from $base_url is not signed by the pinned SSM agent key; not installing it" >&2
  exit 1
fi
dpkg -i "$work/amazon-ssm-agent.deb"
systemctl enable --now amazon-ssm-agent
