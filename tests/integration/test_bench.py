"""bench/run.sh --quick against the built vsrv: the harness works and prints every row.

Timing is never asserted (quick mode runs a few times each); only that each row is there with
numbers, or with its n/a reason for the rows that depend on features (network, CRIU).
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
VSRV_BIN = os.environ.get("VSRV_BIN", str(REPO / "build" / "cli" / "vsrv"))
RUN_SH = REPO / "bench" / "run.sh"
NUM = r"\d+(?:\.\d+)?"
CELL = rf"{NUM} \[{NUM}-{NUM}\]"
# rows whose three runtime columns must all hold numbers
FULL_ROWS = ["1", "1x", "2", "3", "4", "5a", "5b", "5c"]


def _missing_tools():
    return [t for t in ("runc", "crun", "hyperfine", "unshare") if shutil.which(t) is None] + \
           ([] if os.access("/usr/bin/time", os.X_OK) else ["time (GNU)"]) + \
           ([] if os.path.exists("/bin/busybox") else ["busybox-static"])


@pytest.fixture(scope="module")
def quick_run():
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root")
    if not os.access(VSRV_BIN, os.X_OK):
        pytest.skip(f"vsrv binary not built: {VSRV_BIN}")
    missing = _missing_tools()
    if missing:
        pytest.skip("benchmark tools not installed: " + ", ".join(missing) + " (scripts/deps.sh installs them)")
    with tempfile.TemporaryDirectory(prefix="vsrv-test-bench.") as d:
        global PODMAN_CGROUPS_BEFORE
        PODMAN_CGROUPS_BEFORE = _podman_cgroups()
        out_json = os.path.join(d, "bench.json")
        env = dict(os.environ, VSRV_BIN=VSRV_BIN, BENCH_NO_INSTALL="1")
        p = subprocess.run(["bash", str(RUN_SH), "--quick", "--json", out_json], env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, f"bench/run.sh --quick failed (rc {p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}"
        with open(out_json) as f:
            data = json.load(f)
        yield p.stdout, data


PODMAN_CGROUPS_BEFORE = set()


def _podman_cgroups():
    """podman's own cgroup dirs (libpod_parent, libpod_parent/conmon) in every hierarchy."""
    found = set()
    for ctrl in os.listdir("/sys/fs/cgroup"):
        top = os.path.join("/sys/fs/cgroup", ctrl, "libpod_parent")
        if os.path.isdir(top):
            found.add(top)
            found.update(os.path.join(top, c) for c in os.listdir(top) if os.path.isdir(os.path.join(top, c)))
    return found


def _row_line(table, rid):
    for line in table.splitlines():
        if re.match(rf"^{re.escape(rid)}\s", line):
            return line
    return None


@pytest.mark.parametrize("rid", FULL_ROWS)
def test_row_has_numbers_for_every_runtime(quick_run, rid):
    table, data = quick_run
    line = _row_line(table, rid)
    assert line is not None, f"row {rid} missing from the table:\n{table}"
    cells = re.findall(CELL, line)
    assert len(cells) == 3, f"row {rid}: expected vsrv, runc and crun cells with numbers: {line!r}\n{table}"
    ratios = line.split()[-2:]
    for r in ratios:
        assert re.fullmatch(NUM, r), f"row {rid}: ratio columns vsrv/crun vsrv/runc missing: {line!r}"
    cellsj = data["rows"][rid]["cells"]
    for rt in ("vsrv", "runc", "crun"):
        assert isinstance(cellsj.get(rt), dict) and cellsj[rt]["median"] > 0, (rid, rt, cellsj)


def test_hybrid_row(quick_run):
    table, _ = quick_run
    line = _row_line(table, "1h")
    assert line is not None, table
    if os.path.ismount("/sys/fs/cgroup/unified"):
        assert re.search(CELL, line), f"vsrv on the host's hybrid layout has no numbers: {line!r}"
    else:
        assert "n/a" in line


@pytest.mark.parametrize("rid,reason", [("6", "networking"), ("7", "CRIU")])
def test_optional_rows_present(quick_run, rid, reason):
    table, _ = quick_run
    line = _row_line(table, rid)
    assert line is not None, f"row {rid} missing:\n{table}"
    assert re.search(CELL, line) or ("n/a" in line and reason in line), line


SIGNED_CELL = rf"-?{NUM} \[-?{NUM}--?{NUM}\]"   # row 6p holds deltas: may be negative


def test_podman_network_row(quick_run):
    """Row 6p: bridge-minus-none of podman (runc and crun columns) next to vsrv's own (row 6). Numbers
    or an n/a reason naming podman; never a timing assertion. When podman ran, the host's network
    state must be unchanged (all of it happened in the bench's own netns)."""
    table, data = quick_run
    line = _row_line(table, "6p")
    assert line is not None, f"row 6p missing:\n{table}"
    if shutil.which("podman") is None:
        assert "n/a (podman not installed)" in line, line
        return
    assert re.search(SIGNED_CELL, line) or ("n/a" in line and "podman" in line), line
    row = data["rows"]["6p"]
    if isinstance(row["cells"], dict):
        for rt in ("runc", "crun"):
            c = row["cells"].get(rt)
            assert c == "failed" or (isinstance(c, dict) and c["n"] >= 1), (rt, row)
        assert "unchanged" in row["note"], row["note"]
    left = [n for n in os.listdir("/run/netns") if n.startswith("vsrvbench-")] if os.path.isdir("/run/netns") else []
    assert not left, f"bench netns left: {left}"


def test_no_failures_and_no_leftovers(quick_run):
    table, data = quick_run
    assert not data["failures"], f"runtime commands failed: {data['failures']}\n{table}"
    for ctrl in os.listdir("/sys/fs/cgroup"):
        assert not os.path.exists(os.path.join("/sys/fs/cgroup", ctrl, "vsrvbench")), f"cgroup left in {ctrl}"
    new = _podman_cgroups() - PODMAN_CGROUPS_BEFORE
    assert not new, f"row 6p left podman's cgroups: {sorted(new)}"


def test_phases_prints_every_step_of_a_run():
    # bench/phases.py: where the time of a `vsrv run` goes, from create's and run's --debug steps.
    if os.geteuid() != 0:
        pytest.skip("phases.py runs containers: needs root")
    busybox = os.environ.get("VSRV_BUSYBOX") or shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("busybox-static not installed (scripts/deps.sh installs it)")
    r = subprocess.run(["python3", str(REPO / "bench" / "phases.py"), "--vsrv", VSRV_BIN, "--busybox", busybox,
                        "--runs", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for step in ("state saved", "cgroup made", "limits written", "plan built, cloning the init", "init ready",
                 "running", "init exited", "removed", "mount namespace gone"):
        assert re.search(rf"-> {re.escape(step)}\s+{CELL}", r.stdout), (step, r.stdout)
    assert re.search(rf"whole command .* {CELL}", r.stdout), r.stdout
    assert not any(p.name.startswith("vsrvphases") for p in Path("/sys/fs/cgroup").glob("*/vsrvphases*"))


def test_phases_alternates_two_binaries_step_by_step(tmp_path):
    # --vsrv twice: the binaries take turns and each step gets a column per binary and a difference.
    if os.geteuid() != 0:
        pytest.skip("phases.py runs containers: needs root")
    busybox = os.environ.get("VSRV_BUSYBOX") or shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("busybox-static not installed (scripts/deps.sh installs it)")
    copy = tmp_path / "vsrv-copy"
    shutil.copy(VSRV_BIN, copy)
    r = subprocess.run(["python3", str(REPO / "bench" / "phases.py"), "--vsrv", VSRV_BIN, "--vsrv", str(copy),
                        "--busybox", busybox, "--runs", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"[1] {copy}" in r.stdout, r.stdout
    for step in ("cloning the init -> init ready", "init exited -> removed"):
        assert re.search(rf"{re.escape(step)}\s+{NUM}\s+{NUM}\s+[+-]{NUM}$", r.stdout, re.M), (step, r.stdout)
    assert re.search(rf"^whole command .*\s+{NUM}\s+{NUM}\s+[+-]{NUM}$", r.stdout, re.M), r.stdout


def test_bench_on_simulated_cgroup_v2():
    # --bench-cgroups v2-sim: every runtime on the host's cgroup2 bound over /sys/fs/cgroup; vsrv and
    # runc start containers there (crun may refuse without CAP_SYS_RESOURCE: bench/README.md), the
    # memory rows say why they are n/a, and nothing is left in the unified hierarchy.
    if os.geteuid() != 0:
        pytest.skip("the benchmark needs root")
    if not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        pytest.skip("not a hybrid host (no cgroup2 at /sys/fs/cgroup/unified): nothing to simulate")
    missing = _missing_tools()
    if missing:
        pytest.skip("benchmark tools not installed: " + ", ".join(missing) + " (scripts/deps.sh installs them)")
    with tempfile.TemporaryDirectory(prefix="vsrv-test-bench-v2.") as d:
        out_json = os.path.join(d, "bench.json")
        env = dict(os.environ, VSRV_BIN=VSRV_BIN, BENCH_NO_INSTALL="1")
        p = subprocess.run(["bash", str(RUN_SH), "--quick", "--bench-cgroups", "v2-sim", "--only", "1,4,5b",
                            "--json", out_json], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=300)
        assert p.returncode == 0, f"{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
        data = json.load(open(out_json))
    assert data["machine"]["cgroup_bench"] == "v2", data["machine"]
    for rid in ("1", "4"):
        cells = data["rows"][rid]["cells"]
        assert isinstance(cells["vsrv"], dict) and cells["vsrv"]["n"] >= 1, (rid, cells)
        assert isinstance(cells["runc"], dict) and cells["runc"]["n"] >= 1, (rid, cells)
    assert "no memory controller" in data["rows"]["5b"]["cells"], data["rows"]["5b"]
    assert not os.path.exists("/sys/fs/cgroup/unified/vsrvbench"), "bench cgroup left in the unified hierarchy"


def test_release_binary_places_the_hot_text_first():
    # cli/hot-text.ld (bench/hot-text.py): in the static Release binary the code a command runs is
    # one block at the start of the executable segment, so a command maps less of the binary.
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf not installed (binutils)")
    out = subprocess.run([readelf, "-lSW", VSRV_BIN], capture_output=True, text=True).stdout
    if "INTERP" in out:
        pytest.skip("a dynamically linked vsrv (not the static Release build): no ordering is applied")
    cache = Path(VSRV_BIN).resolve().parents[1] / "CMakeCache.txt"
    if cache.exists() and "VSRV_HOT_TEXT:BOOL=OFF" in cache.read_text():
        pytest.skip("built with -DVSRV_HOT_TEXT=OFF")
    secs = {}
    for line in out.splitlines():
        m = re.match(r"\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
        if m:
            secs[m.group(1)] = (int(m.group(2), 16), int(m.group(3), 16))
    assert ".text.vsrv_hot" in secs, f"no .text.vsrv_hot section in {VSRV_BIN}"
    hot, text = secs[".text.vsrv_hot"], secs[".text"]
    assert hot[0] < text[0], (hot, text)
    assert hot[1] >= 256 * 1024, f"only {hot[1]} bytes placed first: is cli/hot-text.ld stale?"


def test_phases_on_simulated_cgroup_v2_makes_no_stray_cgroups():
    # With cgroup2 bound over /sys/fs/cgroup, the v1 mounts are still in the mount table but their
    # paths lead into the cgroup2: phases.py must not make cgroups there (it once made one per
    # v1 controller name, left behind in the host's unified hierarchy).
    if os.geteuid() != 0:
        pytest.skip("phases.py runs containers: needs root")
    unified = Path("/sys/fs/cgroup/unified")
    if not (unified / "cgroup.controllers").exists():
        pytest.skip("not a hybrid host (no cgroup2 at /sys/fs/cgroup/unified): nothing to simulate")
    busybox = os.environ.get("VSRV_BUSYBOX") or shutil.which("busybox") or "/bin/busybox"
    if not os.path.exists(busybox):
        pytest.skip("busybox-static not installed (scripts/deps.sh installs it)")
    before = {p.name for p in unified.iterdir() if p.is_dir()}
    script = ("mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup && exec python3 \"$0\" --vsrv \"$1\" "
              "--busybox \"$2\" --runs 2")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        str(REPO / "bench" / "phases.py"), VSRV_BIN, busybox], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert re.search(rf"-> init ready\s+{CELL}", r.stdout), r.stdout
    after = {p.name for p in unified.iterdir() if p.is_dir()}
    assert after == before, f"left in {unified}: {sorted(after - before)}"
