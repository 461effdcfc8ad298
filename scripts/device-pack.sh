#!/usr/bin/env bash
# scripts/device-pack.sh: packs what the cgroup v2 device machine (Ubuntu 24.04, no apt, no
# network) needs to run vsrv's tests into .device/ (ignored by git; pass it as `carry`):
# the vsrv binary (static in Release), vsrv-nft and the shared libraries the device may lack, the unit-test binary, a static
# probe, busybox-static, pytest with its pure-Python dependencies (used only where the device has none), and for the
# benchmark runc, crun, hyperfine and GNU time with their libraries (in rtlib/, seen only by the benchmark). Then, on the device:
#   bash scripts/device-v2.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
out=.device
rm -rf "$out" && mkdir -p "$out/lib" "$out/py" "$out/bin" "$out/rtlib"
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >> "$(git rev-parse --git-common-dir)/info/exclude"
cp "$build/cli/vsrv" "$build/cli/vsrv-nft" "$build/tests/vsrv_unit_tests" "$out/"
# Every library but glibc's own: glibc is forward compatible (bookworm 2.36 < noble 2.39).
for bin in "$build/cli/vsrv" "$build/cli/vsrv-nft" "$build/tests/vsrv_unit_tests"; do
  { ldd "$bin" || true; } | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*) ;;  # the device has newer ones
      *) cp -L "$lib" "$out/lib/" ;;
    esac
  done
done
# The benchmark's other runtimes and tools (bench/run.sh installs them with apt; the device has no apt).
for t in /usr/sbin/runc /usr/bin/crun /usr/bin/hyperfine /usr/bin/time; do
  [[ -x $t ]] || { echo "device-pack: $t missing (apt-get install runc crun hyperfine time)" >&2; exit 1; }
  cp "$t" "$out/bin/"
  { ldd "$t" || true; } | awk '/=> \//{print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*) ;;
      *) cp -L "$lib" "$out/rtlib/" ;;
    esac
  done
done
cp /bin/busybox "$out/bin/busybox"
gcc -static -O2 -o "$out/probe" tests/probe/probe.c
cp /bin/busybox "$out/busybox"
for m in pytest _pytest pluggy iniconfig packaging py.py; do
  cp -r "/usr/lib/python3/dist-packages/$m" "$out/py/" 2>/dev/null || true
done
du -sh "$out"
