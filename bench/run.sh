#!/usr/bin/env bash
# bench/run.sh: benchmarks vsrv against runc and crun and prints one table (see bench/README.md).
#   bench/run.sh            full run (100 runs per row; ~10 minutes on 2 CPUs)
#   bench/run.sh --quick    a few runs each: proves the harness works (CI), never fails on timing
# Other flags go to bench/bench.py (--runs N, --json FILE, --only 1,4, --vsrv PATH, ...).
# VSRV_BIN selects the vsrv binary (default: build-bench/cli/vsrv, then build/cli/vsrv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $EUID -ne 0 ]]; then
  echo "bench/run.sh: needs root (containers, cgroups, mount namespaces)" >&2
  exit 1
fi

# runc, crun, hyperfine, busybox-static (the rootfs) and time (GNU, peak RSS) from Debian: installed when missing.
need=()
for p in runc crun hyperfine busybox-static time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})) && [[ -z "${BENCH_NO_INSTALL:-}" ]]; then
  echo "bench/run.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

exec python3 "$here/bench.py" "$@"
