#!/usr/bin/env bash
# bench/profile.sh: where the time of `vsrv run /bin/true` goes (numbers for docs/performance.md).
#   bench/profile.sh [VSRV_BIN]    (root; default build-bench/cli/vsrv)
# Prints: strace -f -c of one run (top syscalls), counts of execve/clone/fork/mount/umount/pivot,
# the dynamic loader's statistics (LD_DEBUG=statistics), the cost of the sealed-memfd self
# re-exec (VSRV_NO_CLONED_BINARY=1 against the default, hyperfine), and the same strace counts
# for crun. Runs in its own private mount namespace with cgroup2 unmounted, like bench.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
vsrv="$(realpath "${1:-${VSRV_BIN:-$repo/build-bench/cli/vsrv}}")"
runs="${PROFILE_RUNS:-60}"

if [[ -z "${VSRV_PROFILE_INNER:-}" ]]; then
  export VSRV_PROFILE_INNER=1
  exec unshare -m --propagation private sh -c \
    'if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified && mount -t tmpfs -o size=4m vsrvprof /sys/fs/cgroup/unified; fi; exec "$@"' sh "$0" "$vsrv"
fi

w="$(mktemp -d /tmp/vsrvprof.XXXXXX)"
cleanup() {
  for rt in vsrv crun; do "$(command -v $rt || echo "$vsrv")" --root "$w/state-$rt" delete -f "prof-$rt" >/dev/null 2>&1 || true; done
  for d in /sys/fs/cgroup/*/vsrvbench/prof-* /sys/fs/cgroup/*/vsrvbench; do [[ -d $d ]] && rmdir "$d" 2>/dev/null || true; done
  rm -rf "$w"
}
trap cleanup EXIT

mkdir -p "$w/rootfs/bin" "$w/rootfs/proc" "$w/rootfs/dev" "$w/rootfs/sys" "$w/rootfs/tmp"
cp /bin/busybox "$w/rootfs/bin/busybox"
ln -s busybox "$w/rootfs/bin/true"
mkbundle() {   # $1 runtime binary, $2 name
  local b="$w/bundle-$2"
  mkdir -p "$b"
  (cd "$b" && "$1" spec >/dev/null)
  python3 - "$b/config.json" "$w/rootfs" "$2" <<'EOF'
import json, sys
p, rootfs, name = sys.argv[1:]
s = json.load(open(p))
s["process"]["terminal"] = False
s["process"]["args"] = ["/bin/true"]
s["root"] = {"path": rootfs, "readonly": True}
s["linux"]["cgroupsPath"] = f"/vsrvbench/prof-{name}"
json.dump(s, open(p, "w"))
EOF
  echo "$b"
}
bv="$(mkbundle "$vsrv" vsrv)"
bc="$(mkbundle "$(command -v crun)" crun)"

trace() {   # $1 label, rest: command
  local label="$1"; shift
  local out="$w/strace-$label"
  strace -f -c -S calls -o "$out" "$@" >/dev/null 2>&1 || true
  echo "== strace -f -c: $label (top 15 by calls)"
  sed -n '1,2p' "$out"; sed -n '3,17p' "$out"; tail -1 "$out"
  strace -f -e trace=execve,execveat,clone,clone3,fork,vfork,mount,umount2,pivot_root,mount_setattr,open_tree,move_mount,fsopen,fsmount,unshare,setns \
    -o "$out.k" "$@" >/dev/null 2>&1 || true
  echo "-- counts (successful and failed calls):"
  for s in execve execveat clone clone3 fork vfork unshare setns mount umount2 pivot_root open_tree move_mount mount_setattr fsopen fsmount; do
    n=$(grep -cE "^[0-9]+ +$s\(" "$out.k" || true)
    ((n)) && printf '   %-14s %s\n' "$s" "$n"
  done
  echo
}

trace "vsrv run (default)" "$vsrv" --root "$w/state-vsrv" run -b "$bv" prof-vsrv
trace "vsrv run (VSRV_NO_CLONED_BINARY=1)" env VSRV_NO_CLONED_BINARY=1 "$vsrv" --root "$w/state-vsrv" run -b "$bv" prof-vsrv
trace "crun run" crun --root "$w/state-crun" run -b "$bc" prof-crun

echo "== dynamic loader (LD_DEBUG=statistics), vsrv --version"
if ldd "$vsrv" >/dev/null 2>&1; then
  LD_DEBUG=statistics "$vsrv" --version 2>&1 >/dev/null | sed 's/^ *[0-9]*: *//' | grep -E "total startup|relocation|load|number of" || true
else
  echo "   (vsrv is statically linked: no dynamic loader)"
fi
echo "== dynamic loader, crun --version"
LD_DEBUG=statistics crun --version 2>&1 >/dev/null | sed 's/^ *[0-9]*: *//' | grep -E "total startup|relocation|load|number of" || true
echo "   vsrv shared objects: $({ ldd "$vsrv" 2>/dev/null || true; } | grep -c '=>\|ld-linux'); crun: $(ldd "$(command -v crun)" | wc -l)"
echo

if command -v hyperfine >/dev/null; then
  echo "== hyperfine -N, $runs runs each (not interleaved): cloned binary, linking, process start"
  hyperfine -N --style basic --warmup 5 --runs "$runs" \
    -n "vsrv run (default)" "$vsrv --root $w/state-vsrv run -b $bv prof-vsrv" \
    -n "vsrv run (VSRV_NO_CLONED_BINARY=1)" "env VSRV_NO_CLONED_BINARY=1 $vsrv --root $w/state-vsrv run -b $bv prof-vsrv" \
    -n "env true (cost of env(1) in the line above)" "env VSRV_NO_CLONED_BINARY=1 /bin/true" \
    -n "crun run" "crun --root $w/state-crun run -b $bc prof-crun" \
    -n "vsrv --version (exec + dynamic linking + CLI setup)" "$vsrv --version" \
    -n "vsrv --version, LD_BIND_NOW=1" "env LD_BIND_NOW=1 $vsrv --version" \
    -n "crun --version" "crun --version" \
    -n "unshare -m -u -i -n -p -f true (namespace floor)" "unshare -m -u -i -n -p -f /bin/true" \
    -n "unshare -m -u -i -n -p -C -f true (+cgroup ns)" "unshare -m -u -i -n -p -C -f /bin/true" 2>&1 |
    grep -E "^Benchmark|Time \(mean" || true
fi

# vsrv's own user-space CPU, by function (inclusive): what the process start (glibc's CPU probing),
# the CLI, the config parse and the state and cgroup records cost per run (bench/user_time.py).
if command -v perf >/dev/null; then
  n=$(( runs < 100 ? runs : 100 )); hz=20000
  echo
  echo "== user-space CPU of vsrv run by function ($n runs, perf cpu-clock:u at $hz Hz, dwarf stacks)"
  if perf record -q -e cpu-clock:u -F "$hz" -a --call-graph dwarf,65528 -o "$w/user.data" -- \
      sh -c "for i in \$(seq $n); do '$vsrv' --root '$w/state-vsrv' run -b '$bv' prof-vsrv; done" >/dev/null 2>&1; then
    perf script -i "$w/user.data" --comm vsrv -F comm,tid,ip,sym 2>/dev/null |
      python3 "$here/user_time.py" --runs "$n" --hz "$hz" --top 30 || true
  else
    echo "   (perf record failed: $(perf record -q -o /dev/null -- true 2>&1 | head -1))"
  fi
else
  echo "== user-space CPU by function: skipped (no perf: apt-get install linux-perf)"
fi
