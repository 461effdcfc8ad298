#!/usr/bin/env bash
# scripts/demo.sh: runs one demo server with the freshly built vsrv: a busybox rootfs, the
# default config from `vsrv spec`, and a command that shows what the container sees.
set -euo pipefail
cd "$(dirname "$0")/.."
vsrv=${VSRV_BIN:-$PWD/build/cli/vsrv}
work=$(mktemp -d /tmp/vsrv-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs/bin" "$work/rootfs/proc" "$work/rootfs/dev" "$work/rootfs/sys" "$work/rootfs/tmp" "$work/rootfs/etc"
cp /bin/busybox "$work/rootfs/bin/busybox"
for app in sh ls cat hostname id ps mount uname sleep echo; do ln -s busybox "$work/rootfs/bin/$app"; done
echo "root:x:0:0:root:/root:/bin/sh" >"$work/rootfs/etc/passwd"
echo "root:x:0:" >"$work/rootfs/etc/group"
(cd "$work" && "$vsrv" spec)
# Non-interactive: no terminal, and a script instead of a shell.
python3 - "$work/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c",
    "echo \"hello from $(hostname): pid $$, uid $(id -u)\"; echo mounts:; mount | head -5; echo processes:; ps"]
json.dump(c, open(p, "w"), indent=2)
PY
echo "== vsrv run demo-$$ (bundle $work)"
"$vsrv" --root "$work/state" run --bundle "$work" "demo-$$"
echo "== exit status $?"

# A long-running server: limits from config.json, changed live, paused and resumed.
python3 - "$work/config.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = ["/bin/sleep", "300"]
c["linux"].setdefault("resources", {})["memory"] = {"limit": 64 << 20}
json.dump(c, open(p, "w"), indent=2)
PY
id="demo-server-$$"
v() { echo "\$ vsrv $*"; "$vsrv" --root "$work/state" "$@"; }
trap '"$vsrv" --root "$work/state" delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo "== a server with a 64 MiB memory limit"
v run --detach --bundle "$work" "$id"
v list
v stats --no-stream "$id"
v update --memory 128m "$id"
v stats --no-stream "$id"
v pause "$id" && v state "$id" | grep '"status"'
v resume "$id"
v exec "$id" ps
v delete --force "$id"
echo "== done; see README.md for networks, podman and containerd"
