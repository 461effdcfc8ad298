"""Bad input must fail cleanly: non-zero exit, a useful message, and nothing left behind
(no state dir, no mounts under the bundle, no cgroup dir named after the id, no process)."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import IS_RUNC, VSRV_BIN, pid_alive, probe_args, procs_rooted_in, vsrv, wait_for

SLEEP = probe_args("sleep", 60)


def assert_clean(b):
    left = b.leftovers()
    assert left == [], left


# ---- malformed config ----------------------------------------------------------------------------

def test_malformed_json(bundle):
    b = bundle(SLEEP, save=False)
    (b.path / "config.json").write_text('{"ociVersion": "1.2.0",\n "process": {"args": ["/probe",]}\n}\n')
    r = b.run()
    assert r.rc != 0, r
    if not IS_RUNC:  # runc (Go encoding/json) names neither the file nor the position
        assert "config.json" in r.err, r
        assert re.search(r"(line|column|offset|position|byte|char)\D{0,3}\d+|\d+:\d+", r.err), \
            f"no position in error: {r.err}"
    assert_clean(b)


def test_empty_config(bundle):
    b = bundle(SLEEP, save=False)
    (b.path / "config.json").write_text("")
    r = b.create(check=False)
    assert r.rc != 0, r
    assert "config.json" in r.err or IS_RUNC, r  # runc says only "EOF"
    assert_clean(b)


def test_missing_config(bundle):
    b = bundle(SLEEP, save=False)
    r = b.create(check=False)
    assert r.rc != 0, r
    assert "config.json" in r.err, r
    assert_clean(b)


@pytest.mark.parametrize("path,value", [
    ("process.args", "not-a-list"),
    ("process.env", {"A": "1"}),
    ("process.user.uid", "zero"),
    ("linux.namespaces", "pid"),
])
def test_wrong_type_names_json_path(bundle, path, value):
    b = bundle(SLEEP)
    node = b.config
    keys = path.split(".")
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value
    b.save()
    r = b.create(check=False)
    assert r.rc != 0, r
    leaf = keys[-1]
    assert path in r.err or (leaf in r.err and keys[0] in r.err.lower()), f"error does not name {path}: {r.err}"
    assert_clean(b)


INVALID = {
    "empty-args": {"process": {"args": []}},
    "relative-cwd": {"process": {"cwd": "relative/dir"}},
    "missing-rootfs": {"root": {"path": "/nonexistent/rootfs"}},
    "bogus-namespace": {"linux": {"namespaces": [{"type": "bogus"}]}},
    "bogus-rlimit": {"process": {"rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]}},
    "bogus-seccomp-action": {"linux": {"seccomp": {"defaultAction": "SCMP_ACT_BOGUS"}}},
    "missing-executable": {"process": {"args": ["/nonexistent-binary"]}},
    "bogus-device-type": {"linux": {"devices": [{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]}},
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_config_refused(bundle, case):
    b = bundle(SLEEP, INVALID[case])
    r = b.create(check=False)
    if r.rc == 0:  # a runtime may defer exec errors to start; it must still fail there
        assert case == "missing-executable", f"{case} accepted: {r}"
        assert b.start(check=False).rc != 0
    assert r.err.strip() or r.rc == 0, "no error message"
    b.cmd("delete", "--force", b.id)
    assert_clean(b)


def test_missing_bundle(bundle, tmp_path):
    b = bundle(SLEEP)
    r = b.cmd("create", "--bundle", tmp_path / "no-such-bundle", b.id)
    assert r.rc != 0, r
    assert_clean(b)


# ---- unknown / invalid ids -----------------------------------------------------------------------

@pytest.mark.parametrize("verb", [["state"], ["start"], ["kill"], ["kill", "--all"], ["delete"], ["exec"], ["ps"]])
def test_unknown_id(bundle, verb):
    b = bundle(SLEEP)
    extra = ["/probe", "id"] if verb == ["exec"] else []
    r = b.cmd(*verb, "no-such-container", *extra)
    assert r.rc != 0, r
    assert "does not exist" in r.err, r
    assert not (b.root / "no-such-container").exists()


def test_delete_force_unknown_id(bundle):
    b = bundle(SLEEP)
    r = b.cmd("delete", "--force", "no-such-container")
    # runc: --force on a missing container is not an error
    assert r.rc == 0 or "does not exist" in r.err, r


@pytest.mark.parametrize("cid", ["a/b", "..", "../escape", ".", "x/../../escape", ""])
def test_invalid_id(bundle, tmp_path, cid):
    b = bundle(SLEEP, cid="vt-invalid-placeholder")
    before = set(os.listdir(tmp_path))
    r = b.cmd("create", "--bundle", b.path, cid)
    if r.rc == 0:
        b.cmd("delete", "--force", "--", cid)
    assert r.rc != 0, r
    assert set(os.listdir(tmp_path)) == before
    assert not (tmp_path / "escape").exists() and not (b.root.parent / "escape").exists()
    assert list(b.root.iterdir()) == []
    assert procs_rooted_in(b.rootfs) == []


def test_duplicate_id(bundle):
    b = bundle(SLEEP)
    b.create()
    pid = b.state()["pid"]
    b2 = bundle(SLEEP, root=b.root, cid=b.id)
    r = b2.create(check=False)
    assert r.rc != 0 and "exist" in r.err.lower(), r
    assert b.state()["pid"] == pid and b.status() == "created"
    assert procs_rooted_in(b2.rootfs) == []
    assert not [l for l in open("/proc/self/mountinfo") if str(b2.path) in l]
    b2.id = b.id + "-none"


# ---- wrong state ---------------------------------------------------------------------------------

def test_start_running_refused(bundle):
    b = bundle(SLEEP)
    b.run_detached()
    r = b.start(check=False)
    assert r.rc != 0, r
    assert b.status() == "running"


def test_start_stopped_refused(bundle):
    b = bundle(probe_args("exit", 0))
    b.create()
    b.start()
    b.wait_status("stopped")
    r = b.start(check=False)
    assert r.rc != 0, r


def test_kill_stopped(bundle):
    b = bundle(probe_args("exit", 0))
    b.create()
    b.start()
    b.wait_status("stopped")
    r = b.kill("KILL", check=False)
    assert r.rc != 0 and "not running" in r.err.lower(), r


def test_delete_running_without_force(bundle):
    b = bundle(SLEEP)
    b.run_detached()
    r = b.delete(check=False)
    assert r.rc != 0, r
    assert b.status() == "running"


# ---- bad command lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [["--no-such-flag"], ["create", "--no-such-flag", "x"], ["run"], ["kill"],
                                  ["no-such-command"], ["state"], ["exec", "x"]])
def test_bad_flags(vsrv_bin, tmp_path, argv):
    r = vsrv(*argv, root=tmp_path)
    assert r.rc != 0, r
    assert r.err.strip(), r
    assert list(tmp_path.iterdir()) == []


def test_bad_signal_name(bundle):
    b = bundle(SLEEP)
    b.run_detached()
    for sig in ("SIGBOGUS", "99999", "-1"):
        r = b.cmd("kill", b.id, sig)
        assert r.rc != 0, (sig, r)
    assert b.status() == "running"


# ---- failing hooks / processes leave nothing ------------------------------------------------------

def test_failed_start_hook_cleans_up(bundle):
    b = bundle(SLEEP, {"hooks": {"createContainer": [{"path": "/bin/false"}]}})
    r = b.create(check=False)
    assert r.rc != 0, r
    assert_clean(b)


def test_run_missing_binary_cleans_up(bundle):
    b = bundle(["/no/such/binary"])
    r = b.run()
    assert r.rc != 0, r
    assert_clean(b)


# ---- create killed at arbitrary points -----------------------------------------------------------

@pytest.mark.parametrize("delay_ms", [1, 2, 3, 5, 20, 50, 100])
def test_create_sigkilled_then_delete_force(bundle, delay_ms):
    b = bundle(SLEEP)
    p = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "create", "--bundle", str(b.path), b.id],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay_ms / 1000)
    p.send_signal(signal.SIGKILL)
    p.wait()
    time.sleep(0.2)
    b.cmd("delete", "--force", b.id)
    # Whatever was half-made must be gone (the container init may still be exiting).
    end = time.monotonic() + 5
    while b.leftovers() and time.monotonic() < end:
        time.sleep(0.1)
    left = b.leftovers()
    if IS_RUNC and left and all(l.startswith("cgroup dir") for l in left):
        b.force_cleanup()
        pytest.xfail("known runc deviation: cgroup dirs left when create is SIGKILLed before its state is saved")
    assert left == [], left
