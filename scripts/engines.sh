#!/usr/bin/env bash
# scripts/engines.sh: installs the container engines that tests/integration/test_engines.py drives
# with vsrv as their OCI runtime (podman, containerd + ctr). Debian packages only; idempotent.
# The suite calls it when VSRV_ENGINE_TESTS=1; without it those tests run only if both are present.
set -euo pipefail
pkgs=(podman containerd)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The Debian containerd package starts a system daemon; the tests run their own private one.
command -v podman >/dev/null && command -v containerd >/dev/null && command -v ctr >/dev/null
