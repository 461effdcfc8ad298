#!/usr/bin/env bash
# scripts/device-v2.sh: runs on the cgroup v2 device machine, from the repo root, with .device/
# carried (scripts/device-pack.sh made it here): the unit tests and the resource, lifecycle and
# bad-input integration tests on pure cgroup v2. Results go to $OUT (or /tmp/vsrv-v2).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/vsrv-v2}
mkdir -p "$out"
d=$PWD/.device
export LD_LIBRARY_PATH=$d/lib PYTHONPATH=$d/py PYTHONUNBUFFERED=1
export VSRV_BIN=$d/vsrv VSRV_NFT_HELPER=$d/vsrv-nft VSRV_PROBE=$d/probe VSRV_BUSYBOX=$d/busybox
{
  uname -a; stat -fc 'cgroup fs: %T' /sys/fs/cgroup; cat /sys/fs/cgroup/cgroup.controllers; nproc
} > "$out/machine.txt" 2>&1
"$d/vsrv_unit_tests" > "$out/unit.txt" 2>&1; echo "unit rc=$?" >> "$out/summary.txt"
python3 -m pytest -ra -q -p no:cacheprovider tests/integration/test_resources.py \
  tests/integration/test_lifecycle.py tests/integration/test_badinput.py "$@" > "$out/integration.txt" 2>&1
echo "integration rc=$?" >> "$out/summary.txt"
cat "$out/machine.txt" "$out/summary.txt"; tail -40 "$out/integration.txt"
