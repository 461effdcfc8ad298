#!/usr/bin/env bash
# scripts/device-v2.sh: runs on the cgroup v2 device machine, from the repo root, with .device/
# carried (scripts/device-pack.sh made it here). In order, each stage under its own time limit so
# that a slow one cannot cost the others their results:
#   1. the benchmark's key rows (run, exec) against runc and crun on real cgroup v2, and where a
#      run's time goes (bench/phases.py);
#   2. the unit tests;
#   3. every integration test but the podman/containerd ones (the device has neither);
#   4. the scale test with 400 containers;
#   5. the benchmark's other rows, with what time is left.
# Results go to $OUT (or /tmp/vsrv-v2): machine.txt, summary.txt, unit.txt, integration.txt,
# scale.txt, bench-key.txt, phases.txt, phases-savebehind.txt, bench-rest.txt.   DEVICE_BUDGET_S (default 400) bounds the whole run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/vsrv-v2}
mkdir -p "$out"
d=$PWD/.device
t0=$SECONDS
budget=${DEVICE_BUDGET_S:-400}
left() { echo $((budget - (SECONDS - t0))); }
export PYTHONUNBUFFERED=1
export VSRV_BIN=$d/vsrv VSRV_NFT_HELPER=$d/vsrv-nft VSRV_PROBE=$d/probe VSRV_BUSYBOX=$d/busybox
# The device's own pytest if it has one (newer, matches its Python); else the carried one.
python3 -c 'import pytest' 2>/dev/null || export PYTHONPATH=$d/py
{
  uname -a; stat -fc 'cgroup fs: %T' /sys/fs/cgroup; echo "controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "subtree_control: $(cat /sys/fs/cgroup/cgroup.subtree_control)"; echo "self: $(cat /proc/self/cgroup)"
  echo "nproc: $(nproc)"; python3 -c 'import sys, pytest; print("python", sys.version.split()[0], "pytest", pytest.__version__)'
  for t in ip nsenter unshare mountpoint file nft; do echo "$t: $(command -v $t || echo missing)"; done
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

bench() {   # bench <name> <seconds> <bench.py args...>: runc, crun and their libraries only here
  local name=$1 secs=$2; shift 2
  if ((secs < 30)); then echo "bench-$name: skipped, $secs s left" >> "$out/summary.txt"; return; fi
  PATH=$d/bin:$PATH LD_LIBRARY_PATH=$d/rtlib timeout -k 5 "$secs" python3 bench/bench.py \
    --vsrv "$d/vsrv" --runc "$d/bin/runc" --crun "$d/bin/crun" "$@" \
    > "$out/bench-$name.txt" 2>&1
  echo "bench-$name rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
}

# .device/vsrv-before (optional, copied there by hand): an older vsrv, measured interleaved as a variant.
before=(); [[ -x $d/vsrv-before ]] && before=(--vsrv-variant "before=$d/vsrv-before")
# The "inline" variant saves run's running state itself (VSRV_SAVE_BEHIND=0), as on two CPUs:
# what the write-behind (runtime/save_behind.h) gains on this machine.
bench key 120 --only 1,1x,4 --runs 100 "${before[@]}" --vsrv-variant inline=VSRV_SAVE_BEHIND=0
# Where a run's time goes here, step by step (bench/phases.py); then the same with the save made
# inline and behind, one after the other, for the "init ready -> running" step.
timeout -k 5 60 python3 bench/phases.py --vsrv "$d/vsrv" --busybox "$d/busybox" --runs 300 > "$out/phases.txt" 2>&1
echo "phases rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
for sb in 0 1; do
  echo "== VSRV_SAVE_BEHIND=$sb"
  VSRV_SAVE_BEHIND=$sb timeout -k 5 30 python3 bench/phases.py --vsrv "$d/vsrv" --busybox "$d/busybox" --runs 200
done > "$out/phases-savebehind.txt" 2>&1
echo "phases-savebehind rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
LD_LIBRARY_PATH=$d/lib timeout -k 5 90 "$d/vsrv_unit_tests" > "$out/unit.txt" 2>&1
echo "unit rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
tmo=$(python3 -c 'import pytest_timeout' 2>/dev/null && echo "--timeout=90" || true)
LD_LIBRARY_PATH=$d/lib timeout -k 5 $(( $(left) > 300 ? 240 : $(left) - 60 )) python3 -m pytest -ra -q \
  -p no:cacheprovider $tmo tests/integration "$@" > "$out/integration.txt" 2>&1
echo "integration rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
# Scale: 400 servers at once on 16 CPUs (tests/integration/test_scale.py; 40 elsewhere).
VSRV_SCALE_N=${VSRV_SCALE_N:-400} timeout -k 5 120 python3 -m pytest -ra -q -p no:cacheprovider \
  tests/integration/test_scale.py > "$out/scale.txt" 2>&1
echo "scale (N=${VSRV_SCALE_N:-400}) rc=$? ($((SECONDS - t0)) s)" >> "$out/summary.txt"
bench rest $(( $(left) - 15 )) --only 2,3,5a,5b,5c,6 --runs 50
cat "$out/summary.txt"; tail -25 "$out/integration.txt"; cat "$out/bench-key.txt" 2>/dev/null | tail -30
