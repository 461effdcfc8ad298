"""runc compatibility of small CLI details: delete --force of a missing container, ps arguments
after the id, --systemd-cgroup, exec --additional-gids/--ignore-paused, one value per -e, help
text of the id positional, RTMIN/RTMAX ranges, --network container:ID under --root."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import VSRV_BIN, probe_args, vsrv

SLEEP = probe_args("sleep", 60)
SYSTEMD_ERR = "--systemd-cgroup is not supported yet"


def running(bundle, **kw):
    b = bundle(SLEEP, **kw)
    b.run_detached()
    b.wait_status("running")
    return b


# ---- 1. delete --force of a container that does not exist ------------------------------------

def test_delete_force_of_missing_container_succeeds(vsrv_bin, tmp_path):
    r = vsrv("delete", "--force", "no-such-box", root=tmp_path)
    assert r.rc == 0, r
    r = vsrv("delete", "-f", "no-such-box", root=tmp_path)
    assert r.rc == 0, r


def test_plain_delete_of_missing_container_fails(vsrv_bin, tmp_path):
    r = vsrv("delete", "no-such-box", root=tmp_path)
    assert r.rc == 1, r
    assert "container 'no-such-box' does not exist" in r.err, r


# ---- 2. ps arguments after the id ------------------------------------------------------------

def test_ps_args_after_id_without_double_dash(bundle):
    b = running(bundle)
    pid = b.state()["pid"]
    r = b.cmd("ps", b.id, "-o", "pid,comm")
    assert r.rc == 0, r
    lines = r.out.strip().splitlines()
    assert lines[0].split() == ["PID", "COMMAND"], r
    assert str(pid) in [l.split()[0] for l in lines[1:]], r
    # with `--` as well
    r = b.cmd("ps", b.id, "--", "-o", "pid")
    assert r.rc == 0 and str(pid) in r.out.split(), r


def test_ps_format_json_unchanged(bundle):
    b = running(bundle)
    pid = b.state()["pid"]
    for argv in (["ps", "--format", "json", b.id], ["ps", "-f", "json", b.id], ["ps", b.id, "--format", "json"]):
        r = b.cmd(*argv)
        assert r.rc == 0, r
        assert pid in json.loads(r.out), r


# ---- 3. --systemd-cgroup ---------------------------------------------------------------------

def test_systemd_cgroup_refused_by_create_and_run(bundle):
    b = bundle(SLEEP)
    for verb, extra in (("create", []), ("run", ["--detach"])):
        r = vsrv("--systemd-cgroup", verb, *extra, "--bundle", b.path, b.id, root=b.root)
        assert r.rc == 1, r
        assert SYSTEMD_ERR in r.err, r
        assert not b.state_dir().exists(), f"{verb} left a state dir"
    # after the verb too (CLI11 falls through to the global flags)
    r = vsrv("create", "--bundle", b.path, "--systemd-cgroup", b.id, root=b.root)
    assert r.rc == 1 and SYSTEMD_ERR in r.err, r


def test_systemd_cgroup_refused_by_update_harmless_for_readers(bundle):
    b = running(bundle)
    r = vsrv("--systemd-cgroup", "update", "--pids-limit", "50", b.id, root=b.root)
    assert r.rc == 1, r
    assert SYSTEMD_ERR in r.err, r
    r = vsrv("--systemd-cgroup", "state", b.id, root=b.root)
    assert r.rc == 0 and json.loads(r.out)["status"] == "running", r
    r = vsrv("--systemd-cgroup", "list", "--format", "json", root=b.root)
    assert r.rc == 0 and b.id in [c["id"] for c in json.loads(r.out)], r


# ---- 4. exec --additional-gids, --ignore-paused ----------------------------------------------

def groups_of(text):
    for line in text.splitlines():
        if line.startswith("Groups:"):
            return {int(g) for g in line.split()[1:]}
    raise AssertionError(f"no Groups: line in {text!r}")


def test_exec_additional_gids(bundle):
    b = running(bundle)
    r = b.exec(["cat", "/proc/self/status"], "-g", "4242", "--additional-gids", "4343")
    assert r.rc == 0, r
    assert {4242, 4343} <= groups_of(r.out), r
    r = b.exec(["cat", "/proc/self/status"], "--additional-gids=77")
    assert r.rc == 0 and 77 in groups_of(r.out), r
    r = b.exec(["true"], "-g", "notanumber")
    assert r.rc == 2, r


def test_exec_env_takes_one_value_per_flag(bundle):
    b = running(bundle)
    r = b.exec(["env"], "-e", "A_ONE=1", "--env", "B_TWO=2")
    assert r.rc == 0, r
    assert "A_ONE=1" in r.out.splitlines() and "B_TWO=2" in r.out.splitlines(), r
    # the value after -e is one word: the id and the command are not swallowed
    r = b.exec(["echo", "hi"], "-e", "X=1")
    assert r.rc == 0 and r.out.strip() == "hi", r
    h = vsrv("exec", "--help")
    line = next(l for l in h.out.splitlines() if "--env" in l)
    assert "..." not in line, line


def test_exec_in_paused_container(bundle):
    b = running(bundle)
    r = b.cmd("pause", b.id)
    if r.rc != 0:
        pytest.skip(f"pause does not work here: {r.err}")
    try:
        assert b.status() == "paused"
        r = b.exec(["true"])
        assert r.rc == 1 and "paused" in r.err, r
        p = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "exec", "--ignore-paused", b.id,
                              "echo", "thawed"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        b.procs.append(p)
        time.sleep(1.5)
        # created, but frozen with the rest of the container: exec waits, as runc's does
        assert p.poll() is None, p.communicate()
        assert b.status() == "paused"
    finally:
        assert b.cmd("resume", b.id).rc == 0
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert out.strip() == "thawed"
    assert b.status() == "running"


# ---- 5. help text ----------------------------------------------------------------------------

@pytest.mark.parametrize("verb", ["start", "state", "kill", "delete", "ps"])
def test_container_id_positional_described(vsrv_bin, verb):
    r = vsrv(verb, "--help")
    assert r.rc == 0, r
    line = next(l for l in r.out.splitlines() if l.strip().startswith("container-id"))
    assert "the container's id" in line, r.out


# ---- 6. kill RTMIN+n / RTMAX-n ---------------------------------------------------------------

@pytest.mark.parametrize("sig", ["RTMIN+99", "SIGRTMAX-99", "RTMIN-1", "RTMAX+1", "RTMIN+x"])
def test_kill_realtime_signal_out_of_range(vsrv_bin, tmp_path, sig):
    r = vsrv("kill", "some-box", sig, root=tmp_path)
    assert r.rc == 1, r
    assert sig in r.err and "RTM" in r.err and "does not exist" not in r.err, r


def test_kill_realtime_signal_in_range(bundle):
    b = running(bundle)
    # The init of a pid namespace ignores signals it has no handler for: only the parse is tested.
    for sig in (f"RTMIN+{signal.SIGRTMAX - signal.SIGRTMIN}", "RTMAX-0", "SIGRTMIN+1", "RTMAX"):
        b.kill(sig)
    assert b.status() == "running"


# ---- 7. --network container:ID under --root --------------------------------------------------

def test_network_container_looked_up_under_root(bundle, tmp_path):
    root = tmp_path / "shared-root"
    a = bundle(SLEEP, root=root)
    a.run_detached()
    env = {k: v for k, v in os.environ.items() if k != "VSRV_ROOT"}
    b = bundle(SLEEP, root=root)
    r = b.run_detached("--network", f"container:{a.id}", check=False, env=env)
    assert r.rc == 0, f"{r} {b.logs()}"
    pa, pb = a.state()["pid"], b.state()["pid"]
    assert os.stat(f"/proc/{pa}/ns/net").st_ino == os.stat(f"/proc/{pb}/ns/net").st_ino


def test_verb_found_after_global_options_whose_values_look_like_verbs(bundle, tmp_path):
    """vsrv builds only the parser of the verb it runs; the verb is the first word that is not a
    global option or its value, so `--root DIR/run` or `--log-format text` never pass for one."""
    b = bundle(probe_args("sleep", 30))
    b.run_detached()
    log = tmp_path / "exec"
    for argv in (["--root", str(b.root), "--log", str(log), "--log-format", "text", "list", "-q"],
                 ["--root=" + str(b.root), "--debug", "ls", "--quiet"]):
        r = vsrv(*argv)
        assert r.rc == 0, r
        assert r.out.split() == [b.id], r
    # An alias gets its verb's parser; an unknown verb is refused even with --help.
    h = vsrv("ls", "--help")
    assert h.rc == 0 and "Usage: vsrv list" in h.out, h
    u = vsrv("--root", str(b.root), "lst", "--help")
    assert u.rc == 2 and "unknown command 'lst'" in u.err, u
    # Without a verb, every verb is listed.
    top = vsrv("--help")
    assert top.rc == 0, top
    for verb in ("create", "exec", "update", "network", "stats"):
        assert verb in top.out, (verb, top.out)


def _help_options(verb):
    """(names, type) of each option `vsrv VERB --help` lists; type is "" for a flag."""
    out = subprocess.run([VSRV_BIN, verb, "--help"], capture_output=True, text=True, timeout=10).stdout
    opts, in_options = [], False
    for line in out.splitlines():
        if line.startswith("Options:"):
            in_options = True
            continue
        if not in_options or not line.startswith("  -"):
            continue
        words = line.split()
        names = [n for n in words[0].split(",") if n.startswith("-")]
        kind = words[1] if len(words) > 1 and words[1].isupper() else ""
        if "--help" not in names:
            opts.append((names, kind))
    return opts


@pytest.mark.parametrize("verb", ["run", "create", "exec"])
def test_every_option_is_parsed_when_named(verb, tmp_path):
    """vsrv registers with CLI11 only the options a command line can name (cli/words.h): each
    option of the hot verbs, in each of its spellings (and with =value for long ones), still parses,
    so the command gets past the parser to its first real check (rc 1, not a usage error, rc 2)."""
    values = {"INT": "0", "GID": "0", "KEY=VALUE": "A=b", "TEXT": "none"}
    opts = _help_options(verb)
    assert len(opts) >= 10, opts
    # run and create: no config.json in the working directory (the default bundle) is the first check.
    for names, kind in opts:
        for n in names:
            forms = [[n]] if not kind else [[n, values.get(kind, "none")]]
            if kind and n.startswith("--"):
                forms.append([f"{n}={values.get(kind, 'none')}"])
            for form in forms:
                if verb != "exec" and n in ("-b", "--bundle"):
                    form = [form[0], str(tmp_path / "missing")] if len(form) == 2 else [f"{n}={tmp_path / 'missing'}"]
                r = subprocess.run([VSRV_BIN, "--root", str(tmp_path / "root"), verb] + form + ["x"],
                                   capture_output=True, text=True, timeout=10, cwd=tmp_path)
                assert r.returncode == 1, (form, r.returncode, r.stderr)
                assert "not expected" not in r.stderr and "required" not in r.stderr, (form, r.stderr)


def test_global_options_after_the_verb_and_unknown_options(tmp_path):
    # Global options after the verb still reach the main command (CLI11 fallthrough), with only
    # the named options registered; an unknown option is still one usage error naming it.
    root = str(tmp_path / "root")
    r = subprocess.run([VSRV_BIN, "exec", "-t", "-d", "--root", root, "--log-format", "json", "x", "true"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "does not exist" in r.stderr, r
    r = subprocess.run([VSRV_BIN, "run", "--root", root, "--debug", "-db", str(tmp_path / "missing"), "x"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--db" in r.stderr, r  # "-db" is read as --db, as runc reads its flags
    r = subprocess.run([VSRV_BIN, "run", "--bogus", "x"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--bogus" in r.stderr, r
