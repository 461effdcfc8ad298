#!/usr/bin/env bash
# scripts/deps.sh: installs every Debian package vsrv needs to build, test and benchmark.
# Idempotent: apt-get skips what is present. Safe to run again.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config git
  libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev libnftables-dev
  nlohmann-json3-dev libtomlplusplus-dev libcli11-dev libexpected-dev libgtest-dev
  criu go-md2man busybox-static iproute2 nftables procps
  python3 python3-pytest
  runc crun hyperfine time
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
