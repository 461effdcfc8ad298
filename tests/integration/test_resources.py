"""Resource control (issue 3): limits from config.json seen inside and enforced, live update,
pause/resume, events and stats, cgroup cleanup, and bad resource input.

Runs on whatever cgroup layout the machine has (v1, hybrid, v2): `cg` below maps the few files the
tests read to their v1 or v2 names."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CGROUP_ROOT, VSRV_BIN, cgroup_dirs_named, pid_alive, probe_args, wait_for

MiB = 1 << 20


def _is_v2():
    return os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


V2 = _is_v2()


def need_controllers(*names):
    """On v2 a controller may be absent from the hierarchy (scripts/test-v2-sim.sh binds a cgroup2
    without memory/cpu/pids over /sys/fs/cgroup): such tests skip, naming what is missing."""
    if not V2:
        return
    try:
        have = set(open(os.path.join(CGROUP_ROOT, "cgroup.controllers")).read().split())
    except OSError:
        have = set()
    missing = [n for n in names if n not in have]
    if missing:
        pytest.skip(f"this cgroup v2 hierarchy has no {', '.join(missing)} controller")

# (v1 controller, v1 file, v2 file)
FILES = {
    "memory.limit": ("memory", "memory.limit_in_bytes", "memory.max"),
    "cpu.quota": ("cpu", "cpu.cfs_quota_us", "cpu.max"),
    "pids.max": ("pids", "pids.max", "pids.max"),
}


def host_file(b, key):
    """The host path of a cgroup file of container b (default cgroupsPath /vsrv/<id>)."""
    ctrl, v1, v2 = FILES[key]
    if V2:
        return Path(CGROUP_ROOT) / "vsrv" / b.id / v2
    return Path(CGROUP_ROOT) / ctrl / "vsrv" / b.id / v1


def inside_file(key):
    """The same file as the container sees it through its cgroup namespace."""
    ctrl, v1, v2 = FILES[key]
    return f"/sys/fs/cgroup/{v2}" if V2 else f"/sys/fs/cgroup/{ctrl}/{v1}"


def memory_limit_value(text):
    text = text.strip()
    return None if text in ("max", "9223372036854771712") else int(text)


def cpu_quota_value(text):
    parts = text.split()
    if V2:
        return None if parts[0] == "max" else int(parts[0])
    return None if int(parts[0]) < 0 else int(parts[0])


def events_stats(b):
    r = b.cmd("events", "--stats", b.id)
    assert r.rc == 0, r
    ev = json.loads(r.out)
    assert ev["type"] == "stats" and ev["id"] == b.id, ev
    return ev["data"]


def sleeper(bundle, overrides=None, seconds=120):
    b = bundle(probe_args("sleep", seconds), overrides=overrides)
    b.run_detached()
    return b


# ----------------------------------------------------------------------------------------------
# Limits from config.json


def test_memory_limit_seen_inside_and_enforced_with_oom_event(bundle):
    need_controllers("memory")
    limit = 32 * MiB
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": limit, "swap": limit}}}})
    r = b.exec(["/bin/cat", inside_file("memory.limit")])
    assert r.rc == 0, r
    assert memory_limit_value(r.out) == limit, r
    assert memory_limit_value(host_file(b, "memory.limit").read_text()) == limit

    # A streaming `events` sees the OOM kill as {"type":"oom"}.
    ev_out = b.path / "events.out"
    with open(ev_out, "wb") as fo:
        ev = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "events", "--interval", "1s", b.id],
                              stdout=fo, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: ev_out.read_text().strip(), 10, what="first events line")
        r = b.exec(probe_args("alloc", 128), timeout=60)
        assert r.rc == 137, f"allocating 128 MiB under a 32 MiB limit should be OOM-killed: {r}"
        assert "allocated 128" not in r.out, r

        def oom_line():
            for line in ev_out.read_text().splitlines():
                if json.loads(line).get("type") == "oom":
                    return True
            return False
        wait_for(oom_line, 10, what="an oom event")
    finally:
        ev.terminate()
        ev.wait(timeout=10)
    data = events_stats(b)
    assert data["memory"]["oom_kill"] >= 1, data["memory"]
    assert data["memory"]["usage"]["limit"] == limit, data["memory"]["usage"]
    assert b.status() == "running"  # only the allocating process died


def test_cpu_quota_holds_a_busy_loop(bundle):
    need_controllers("cpu")
    # 20% of one CPU: a 3 s busy loop may use about 0.6 s of CPU.
    b = sleeper(bundle, {"linux": {"resources": {"cpu": {"quota": 20000, "period": 100000}}}})
    r = b.exec(["/bin/cat", inside_file("cpu.quota")])
    assert r.rc == 0 and cpu_quota_value(r.out) == 20000, r
    before = events_stats(b)["cpu"]
    r = b.exec(probe_args("spin", 3), timeout=30)
    assert r.rc == 0, r
    after = events_stats(b)["cpu"]
    used = (after["usage"]["total"] - before["usage"]["total"]) / 1e9
    assert 0.3 < used < 1.2, f"busy loop used {used:.2f}s of CPU in 3s under a 20% quota"
    assert after["throttling"]["throttled_periods"] > before["throttling"]["throttled_periods"], after


def test_pids_limit_stops_fork(bundle):
    need_controllers("pids")
    b = bundle(probe_args("forks", 50), overrides={"linux": {"resources": {"pids": {"limit": 10}}}})
    b.run_detached()
    line = wait_for(lambda: "forked" in b.out() and b.out(), 10, what="fork result")
    assert "then EAGAIN" in line, line
    forked = int(line.split()[1].rstrip(","))
    assert forked < 10, line
    r = b.exec(["/bin/cat", inside_file("pids.max")])
    assert r.rc == 0 and r.out.strip() == "10", r
    assert events_stats(b)["pids"]["limit"] == 10


# ----------------------------------------------------------------------------------------------
# update


def test_update_raises_and_lowers_memory_and_cpu(bundle):
    need_controllers("memory", "cpu", "pids")
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": 64 * MiB}, "cpu": {"quota": 50000, "period": 100000}}}})

    def inside(key, conv):
        r = b.exec(["/bin/cat", inside_file(key)])
        assert r.rc == 0, r
        return conv(r.out)

    assert inside("memory.limit", memory_limit_value) == 64 * MiB
    r = b.cmd("update", "--memory", "128m", b.id)
    assert r.rc == 0, r
    assert inside("memory.limit", memory_limit_value) == 128 * MiB
    r = b.cmd("update", "--memory", "48m", "--cpu-quota", "25000", b.id)
    assert r.rc == 0, r
    assert inside("memory.limit", memory_limit_value) == 48 * MiB
    assert inside("cpu.quota", cpu_quota_value) == 25000
    r = b.cmd("update", "--cpu-quota", "150000", "--cpu-period", "100000", b.id)
    assert r.rc == 0, r
    assert inside("cpu.quota", cpu_quota_value) == 150000
    # --resources from stdin, as runc.
    r = b.cmd("update", "--resources", "-", b.id, input=json.dumps({"memory": {"limit": 96 * MiB}, "pids": {"limit": 30}}))
    assert r.rc == 0, r
    assert inside("memory.limit", memory_limit_value) == 96 * MiB
    assert inside("pids.max", str.strip) == "30"
    assert b.status() == "running"


def test_update_refused_by_kernel_keeps_old_limits(bundle):
    """v1 refuses a memory limit below the usage (EBUSY): vsrv says so and keeps the old one."""
    if V2:
        pytest.skip("cgroup v2 takes a memory.max below the usage and reclaims down to it: "
                    "test_update_below_usage_on_v2_reclaims")
    need_controllers("memory")
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": 64 * MiB}}}})
    r = b.exec(probe_args("alloc", 16), "--detach")  # alloc stays, holding its memory
    assert r.rc == 0, r
    wait_for(lambda: events_stats(b)["memory"]["usage"]["usage"] > 8 * MiB, 10, what="memory in use")
    r = b.cmd("update", "--memory", "1m", b.id)
    assert r.rc != 0, r
    assert "memory" in r.err, r
    assert memory_limit_value(host_file(b, "memory.limit").read_text()) == 64 * MiB


def test_update_below_usage_on_v2_reclaims(bundle):
    """v2 never refuses a lower memory.max: the kernel reclaims (swapping, or OOM-killing when it
    cannot) until the usage fits. vsrv passes that on as runc and crun do: the update succeeds and
    the new limit holds at once; the 16 MiB process, not the container's init, is what goes."""
    if not V2:
        pytest.skip("cgroup v1 refuses a limit below the usage: test_update_refused_by_kernel_keeps_old_limits")
    need_controllers("memory")
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": 64 * MiB}}}})
    r = b.exec(probe_args("alloc", 16), "--detach")
    assert r.rc == 0, r
    wait_for(lambda: events_stats(b)["memory"]["usage"]["usage"] > 8 * MiB, 10, what="memory in use")
    r = b.cmd("update", "--memory", "1m", b.id)
    assert r.rc == 0, r
    assert memory_limit_value(host_file(b, "memory.limit").read_text()) == 1 * MiB
    assert int((host_file(b, "memory.limit").parent / "memory.current").read_text()) <= 1 * MiB
    st = json.loads(b.cmd("state", b.id).out)
    assert st["status"] == "running", st

@pytest.mark.parametrize("args,needle", [
    (["--memory", "lots"], "--memory"),
    (["--cpu-quota", "1.5"], "--cpu-quota"),
    (["--blkio-weight", "5"], "--blkio-weight"),
    (["--cpuset-cpus", "0-4095"], "cpus"),
])
def test_update_bad_values(bundle, args, needle):
    need_controllers("memory", "cpu", "io", "cpuset")
    b = sleeper(bundle)
    r = b.cmd("update", *args, b.id)
    assert r.rc != 0, r
    assert needle in r.err, r
    assert r.err.count("\n") <= 1, f"one clear error line expected: {r.err!r}"


def test_update_unknown_and_stopped(bundle):
    b = bundle(probe_args("exit", 0))
    r = b.cmd("update", "--memory", "64m", "no-such-container")
    assert r.rc != 0 and "no-such-container" in r.err, r
    b.create()
    b.start()
    b.wait_status("stopped")
    r = b.cmd("update", "--memory", "64m", b.id)
    assert r.rc != 0 and "stopped" in r.err, r


def test_update_resources_file_bad_json(bundle, tmp_path):
    b = sleeper(bundle)
    f = tmp_path / "res.json"
    f.write_text('{"memory": {"limit": "a lot"}}')
    r = b.cmd("update", "--resources", f, b.id)
    assert r.rc != 0 and "memory.limit" in r.err, r


# ----------------------------------------------------------------------------------------------
# pause / resume


def test_pause_freezes_and_resume_continues(bundle, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    b = bundle(probe_args("count", "/shared/counter"), save=False)
    b.add_mount("/shared", "bind", str(shared), ["rbind", "rw"])
    b.run_detached()
    counter = shared / "counter"

    def value():
        try:
            return int(counter.read_text().strip() or -1)
        except (FileNotFoundError, ValueError):
            return -1
    wait_for(lambda: value() > 3, 10, what="counter running")
    r = b.cmd("pause", b.id)
    assert r.rc == 0, r
    assert b.status() == "paused"
    r = b.cmd("list", "--format", "json")
    assert [c["status"] for c in json.loads(r.out) if c["id"] == b.id] == ["paused"], r
    v1 = value()
    time.sleep(0.5)
    assert value() == v1, "the counter moved while paused"
    # runc's rules on a paused container: exec is refused, pausing again is an error.
    r = b.exec(["/bin/true"])
    assert r.rc != 0 and "paused" in r.err, r
    r = b.cmd("pause", b.id)
    assert r.rc != 0 and "paused" in r.err, r
    r = b.cmd("resume", b.id)
    assert r.rc == 0, r
    assert b.status() == "running"
    wait_for(lambda: value() > v1 + 3, 10, what="counter moving again")
    r = b.cmd("resume", b.id)
    assert r.rc != 0 and "not paused" in r.err, r


def test_kill_9_and_delete_of_a_paused_container(bundle):
    b = sleeper(bundle)
    pid = b.state()["pid"]
    assert b.cmd("pause", b.id).rc == 0
    r = b.kill("KILL")
    assert r.rc == 0, r
    wait_for(lambda: not pid_alive(pid), 10, what="paused init killed")
    b.wait_status("stopped")

    c = sleeper(bundle)
    assert c.cmd("pause", c.id).rc == 0
    r = c.delete("--force")
    assert r.rc == 0, r


def test_pause_wrong_state(bundle):
    b = bundle(probe_args("exit", 0))
    r = b.cmd("pause", "no-such-container")
    assert r.rc != 0 and "no-such-container" in r.err, r
    b.create()
    b.start()
    b.wait_status("stopped")
    r = b.cmd("pause", b.id)
    assert r.rc != 0 and "stopped" in r.err, r


# ----------------------------------------------------------------------------------------------
# events and stats


def test_events_stats_has_runc_fields(bundle):
    need_controllers("memory", "pids")
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": 64 * MiB}, "pids": {"limit": 50}}}})
    d = events_stats(b)
    for k in ("cpu", "memory", "pids", "blkio", "hugetlb"):
        assert k in d, d
    assert d["cpu"]["usage"]["total"] > 0
    assert d["memory"]["usage"]["usage"] > 0
    assert d["memory"]["usage"]["limit"] == 64 * MiB
    assert d["pids"] == {"current": 1, "limit": 50}
    assert "ioServiceBytesRecursive" in d["blkio"]


def test_events_stream_ends_when_container_stops(bundle):
    b = sleeper(bundle)
    p = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "events", "--interval", "200ms", b.id],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.7)
    b.kill("KILL")
    out, err = p.communicate(timeout=10)
    lines = [json.loads(l) for l in out.decode().splitlines()]
    assert len(lines) >= 2 and all(l["type"] == "stats" for l in lines), (out, err)


def test_stats_table_and_json(bundle):
    need_controllers("memory")
    b = sleeper(bundle, {"linux": {"resources": {"memory": {"limit": 64 * MiB}}}})
    r = b.cmd("stats", "--no-stream", b.id)
    assert r.rc == 0, r
    head, row = r.out.splitlines()[:2]
    for col in ("CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS", "BLOCK I/O", "NET I/O"):
        assert col in head, head
    assert row.startswith(b.id) and "64.00MiB" in row, row
    r = b.cmd("stats", "--no-stream", "--format", "json")
    assert r.rc == 0, r
    rows = {x["id"]: x for x in json.loads(r.out)}
    assert rows[b.id]["memory_limit"] == 64 * MiB and rows[b.id]["pids"] == 1, rows
    # streaming: two refreshes within a second, then interrupted
    p = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "stats", "--interval", "200ms", "--format", "json", b.id],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.0)
    p.send_signal(2)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0 and len(out.decode().splitlines()) >= 2, out
    r = b.cmd("stats", "--no-stream", "no-such-container")
    assert r.rc != 0 and "no-such-container" in r.err, r
    r = b.cmd("stats", "--interval", "soon", b.id)
    assert r.rc != 0 and "--interval" in r.err, r


# ----------------------------------------------------------------------------------------------
# Cleanup and bad input


def _cgroup_lines(pid):
    """{hierarchy: path} of /proc/PID/cgroup; the v2 line is keyed "" ("0::/x")."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(","):
            out[c.replace("name=", "")] = path
    return out


def test_init_and_exec_join_every_hierarchy(bundle, tmp_path):
    """The init moves itself into each v1 hierarchy through `tasks` (and clone3 puts it into the
    unified one); an exec'd process does the same. Seen from the host, both are in /vsrv/<id> in
    every hierarchy vsrv manages; seen from inside, the cgroup namespace is rooted there."""
    b = sleeper(bundle)
    want = f"/vsrv/{b.id}"
    managed = {c for c in os.listdir(CGROUP_ROOT)
               if os.path.isdir(os.path.join(CGROUP_ROOT, c, "vsrv", b.id))}
    if V2:
        managed = {""}
    elif os.path.isdir(os.path.join(CGROUP_ROOT, "unified", "vsrv", b.id)):
        managed = (managed - {"unified"}) | {""}
    assert managed, "no cgroup directory for the container"
    pf = tmp_path / "exec.pid"
    r = b.exec(probe_args("sleep", 30), "--detach", "--pid-file", pf, timeout=20)
    assert r.rc == 0, r
    for pid in (b.state()["pid"], int(pf.read_text().strip())):
        seen = _cgroup_lines(pid)
        wrong = {c: seen.get(c) for c in managed if seen.get(c) != want}
        assert not wrong, f"pid {pid}: {wrong} (want {want})"
    inside = b.exec(probe_args("cat", "/proc/self/cgroup"))
    assert inside.rc == 0, inside
    paths = {l.split(":", 2)[2] for l in inside.out.splitlines() if l.split(":", 2)[1] != "name=systemd"}
    assert paths == {"/"}, inside.out


BESIDE_LINE = "is made beside the init"
GETFD_LINE = "joins through the tasks files the helper opens"


@pytest.mark.parametrize("beside,join", [("1", "fds"), ("1", "path"), ("0", "-")])
def test_cgroup_made_beside_the_init_or_before_it(bundle, beside, join, monkeypatch, tmp_path):
    """VSRV_CGROUP_BESIDE=1: the v1 directories and limits are made by a helper while the init
    sets up its first mounts, and the init joins them before the cgroup tree is mounted
    (runtime/cgroup_beside.h), through the tasks files the helper opened (pidfd_getfd) or, with
    VSRV_CGROUP_JOIN_FDS=0 (as where pidfd_getfd is refused), by their paths; =0: all made before
    the clone. Either way the init is in every hierarchy, the limits are written, the cgroup
    namespace is rooted at the container's cgroup, and the cgroup tree mounted inside shows the
    container's own directories."""
    if V2:
        pytest.skip("pure cgroup v2: one directory, which clone3 needs first; nothing is made beside the init")
    monkeypatch.setenv("VSRV_CGROUP_BESIDE", beside)
    monkeypatch.setenv("VSRV_CGROUP_JOIN_FDS", "0" if join == "path" else "1")
    limit = 48 * MiB
    b = bundle(probe_args("sleep", 60),
               overrides={"linux": {"resources": {"memory": {"limit": limit}, "pids": {"limit": 77}}}})
    log = tmp_path / "debug.log"
    r = b._with_logs("--debug", "--log", log, "run", "--detach", "--bundle", b.path, b.id)
    assert r.rc == 0, r
    text = log.read_text()
    helper_refused = "no helper could start beside the init" in text  # a sanitizer build
    assert (BESIDE_LINE in text) == (beside == "1" and not helper_refused), text
    # Beside the init, it joins through the tasks files the helper opened (pidfd_getfd).
    assert (GETFD_LINE in text) == (join == "fds" and not helper_refused), text
    want = f"/vsrv/{b.id}"
    pid = b.state()["pid"]
    seen = _cgroup_lines(pid)
    for c in ("memory", "pids", "cpuset", "devices", "freezer"):
        assert seen.get(c) == want, (c, seen)
    assert memory_limit_value(host_file(b, "memory.limit").read_text()) == limit
    assert host_file(b, "pids.max").read_text().strip() == "77"
    r = b.exec(["/bin/cat", inside_file("memory.limit"), inside_file("pids.max"), "/proc/self/cgroup"])
    assert r.rc == 0, r
    lines = r.out.split()
    assert memory_limit_value(lines[0]) == limit and lines[1] == "77", r.out
    inside = {l.split(":", 2)[2] for l in r.out.splitlines()[2:] if l.count(":") >= 2 and "name=systemd" not in l}
    assert inside == {"/"}, r.out


def test_a_limit_the_kernel_refuses_in_the_helper_is_one_error_and_nothing_left(bundle, monkeypatch):
    """A value the kernel refuses, written by the helper beside the init: the init stops before it
    joins, create names the file, the value and the kernel's reason, and removes everything."""
    if V2:
        pytest.skip("pure cgroup v2: nothing is made beside the init")
    if not os.path.exists(os.path.join(CGROUP_ROOT, "cpu", "cpu.rt_runtime_us")):
        pytest.skip("no cpu.rt_runtime_us in this v1 cpu hierarchy (kernel without RT group scheduling)")
    monkeypatch.setenv("VSRV_CGROUP_BESIDE", "1")  # (a sanitizer build makes it the usual way: same error)
    b = bundle(probe_args("sleep", 10),
               overrides={"linux": {"resources": {"cpu": {"realtimeRuntime": 2000000, "realtimePeriod": 1000000}}}})
    r = b.run()
    assert r.rc != 0, r
    assert "cpu.rt_runtime_us' = 2000000: Invalid argument" in r.err, r
    assert r.err.strip().count("\n") == 0, f"one clear error line expected: {r.err!r}"
    assert b.leftovers() == [], b.leftovers()


def test_200_create_delete_cycles_leave_no_cgroup(bundle):
    need_controllers("memory", "pids")
    b = bundle(probe_args("sleep", 60), overrides={"linux": {"resources": {"memory": {"limit": 64 * MiB}, "pids": {"limit": 100}}}})
    base = b.id
    for i in range(200):
        b.id = f"{base}-{i}"
        r = b.create()
        r = b.delete("--force")
        assert r.rc == 0, r
    b.id = base
    left = [d for i in range(200) for d in cgroup_dirs_named(f"{base}-{i}")]
    assert left == [], left[:5]
    # The shared /vsrv prefix goes with its last container: if it is still there, it holds
    # another container (one some other run started), never nothing.
    prefixes = [p for p in Path(CGROUP_ROOT).glob("*/vsrv")] + [p for p in Path(CGROUP_ROOT).glob("vsrv")]
    empty = [p for p in prefixes if p.is_dir() and not any(c.is_dir() for c in p.iterdir())]
    assert empty == [], empty


@pytest.mark.parametrize("resources,field", [
    ({"memory": {"limit": -5}}, "memory.limit"),
    ({"cpu": {"cpus": "0-4095"}}, "cpu.cpus"),
    ({"unified": {"nosuch.knob": "1"}}, "unified"),
    ({"devices": [{"allow": True, "type": "x", "access": "rwm"}]}, "devices[0].type"),
    ({"pids": {"limit": "many"}}, "pids.limit"),
])
def test_bad_resources_clear_error_and_nothing_left(bundle, resources, field):
    b = bundle(probe_args("sleep", 10), overrides={"linux": {"resources": resources}})
    r = b.create(check=False)
    assert r.rc != 0, r
    assert field in r.err, r
    assert r.err.strip().count("\n") == 0, f"one clear error line expected: {r.err!r}"
    assert b.leftovers() == [], b.leftovers()
    assert cgroup_dirs_named(b.id) == []
