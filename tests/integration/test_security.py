"""Attacks a runtime must resist. Each test performs the attack and checks the host (and the
container) for its effect. A refusal with a clean state is always an acceptable outcome where noted."""
import errno
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import VSRV_BIN, cap_mask, parse_caps, probe_args, runc_deviation, run_cmd, vsrv, wait_for


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def mount_points(text):
    return [l.split(" - ")[0].split()[4] for l in text.splitlines() if " - " in l]


# ---- symlinks in mount destinations --------------------------------------------------------------

def test_mount_dest_through_symlink_to_root_stays_in_rootfs(bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "marker").write_text("bound\n")
    host_tmp_marker = Path("/tmp") / f"vsrv-sec-{os.getpid()}-{tmp_path.name}"
    host_tmp_marker.write_text("host\n")
    try:
        b = bundle(["/bin/sh", "-c", "/probe ls /tmp; echo ==; /probe mounts"])
        os.symlink("/", b.rootfs / "evil")
        b.add_mount("/evil/tmp", "bind", str(src), ["rbind", "ro"])
        r = b.run()
        if r.rc == 0:
            ls, mounts = r.out.split("==\n", 1)
            assert "marker" in ls.split(), r.out           # resolved inside the rootfs: /evil/tmp == /tmp
            assert host_tmp_marker.name not in ls
            assert "/tmp" in mount_points(mounts)
        assert host_tmp_marker.read_text() == "host\n"
        assert not (Path("/tmp") / "marker").exists()
    finally:
        host_tmp_marker.unlink()


def test_mount_dest_symlink_to_host_path_not_created_on_host(bundle, tmp_path):
    hostdir = tmp_path / "hostonly"
    hostdir.mkdir()
    b = bundle(["/bin/sh", "-c", "/probe mounts"])
    os.symlink(str(hostdir), b.rootfs / "evil")   # absolute link: must resolve inside the rootfs
    b.add_mount("/evil/sub/dir", "tmpfs", "tmpfs", ["size=1m"])
    r = b.run()
    assert list(hostdir.iterdir()) == [], "runtime followed a rootfs symlink onto the host"
    if r.rc == 0:
        assert (b.rootfs / str(hostdir).lstrip("/") / "sub" / "dir").is_dir()
        assert str(hostdir) + "/sub/dir" in mount_points(r.out)


def test_mount_dest_symlink_into_proc_self(bundle, tmp_path):
    rt_cwd = tmp_path / "runtime-cwd"
    rt_cwd.mkdir()
    b = bundle(probe_args("mounts"))
    os.symlink("/proc/self/cwd", b.rootfs / "evil")
    b.add_mount("/evil/newdir", "tmpfs", "tmpfs", ["size=1m"])
    r = b.cmd("run", "--bundle", b.path, b.id, cwd=rt_cwd, timeout=60)
    assert not (rt_cwd / "newdir").exists(), "mount destination resolved through the runtime's /proc/self"
    assert list(rt_cwd.iterdir()) == []
    if r.rc != 0:
        assert b.leftovers() == []


def test_bind_over_proc_refused(bundle, tmp_path):
    fake = tmp_path / "fakeproc"
    fake.mkdir()
    (fake / "kcore").write_text("fake")
    b = bundle(probe_args("ls", "/proc"))
    b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/proc"]
    b.add_mount("/proc", "bind", str(fake), ["rbind"])
    r = b.run()
    assert r.rc != 0, f"bind mount over /proc accepted: {r}"
    assert b.leftovers() == []


def test_bind_over_proc_subpath_refused(bundle, tmp_path):
    fake = tmp_path / "fake"
    fake.write_text("0\n")
    b = bundle(probe_args("cat", "/proc/sys/kernel/core_pattern"))
    b.add_mount("/proc/self/attr/current", "bind", str(fake), ["bind"])
    r = b.run()
    assert r.rc != 0, f"bind mount onto /proc/self/... accepted: {r}"
    assert b.leftovers() == []


# ---- masked paths must use the real /dev/null (CVE-2025-31133) -----------------------------------

def _check_mask_safe(r, b, needle):
    if r.rc != 0:
        assert b.leftovers() == []
        return
    assert needle not in r.out, f"masked path exposed the fake /dev/null: {r.out}"
    for l in r.out.splitlines():
        if l.startswith("type="):
            assert l.startswith("type=chr") and "rdev=1:3 " in l or l.startswith("type=dir"), l


def test_masked_path_with_fake_dev_null_bind(bundle, tmp_path):
    runc_deviation("CVE-2025-31133: runc < 1.2.8 masks with whatever /dev/null is")
    fake = tmp_path / "notnull"
    fake.write_text("NOT-NULL-SECRET\n")
    b = bundle(["/bin/sh", "-c", "/probe cat /proc/kcore; /probe stat /proc/kcore"])
    b.add_mount("/dev/null", "bind", str(fake), ["bind", "rw"])
    if "/proc/kcore" not in b.linux.setdefault("maskedPaths", []):
        b.linux["maskedPaths"].append("/proc/kcore")
    b.save()
    _check_mask_safe(b.run(), b, "NOT-NULL-SECRET")
    assert fake.read_text() == "NOT-NULL-SECRET\n"


def test_masked_path_with_rootfs_dev_null_symlink(bundle, tmp_path):
    # rootfs /dev/null is a symlink (no /dev tmpfs). Its target is a harmless marker file that exists
    # both on the host and in the rootfs, so following it on either side is detected without damage.
    # (Never point this at a real sysctl: a vulnerable runtime writes through it.)
    target = f"/tmp/vsrv-fakenull-{tmp_path.name}"
    host_marker = Path(target)
    host_marker.write_text("HOST-FAKE-NULL\n")
    try:
        b = bundle(["/bin/sh", "-c", "/probe cat /proc/kcore; /probe stat /proc/kcore"])
        b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] != "/dev"]
        (b.rootfs / "dev").mkdir(exist_ok=True)
        (b.rootfs / target.lstrip("/")).write_text("ROOTFS-FAKE-NULL\n")
        os.symlink(target, b.rootfs / "dev" / "null")
        if "/proc/kcore" not in b.linux.setdefault("maskedPaths", []):
            b.linux["maskedPaths"].append("/proc/kcore")
        b.save()
        r = b.run()
        _check_mask_safe(r, b, "FAKE-NULL")
        assert host_marker.read_text() == "HOST-FAKE-NULL\n"
        assert (b.rootfs / target.lstrip("/")).read_text() == "ROOTFS-FAKE-NULL\n"
    finally:
        host_marker.unlink()


# ---- file descriptors ----------------------------------------------------------------------------

def _fds(out):
    return dict(l.split(" -> ", 1) for l in out.splitlines() if " -> " in l)


def test_no_fd_leak_into_init(bundle, tmp_path):
    b = bundle(probe_args("fds"))
    leak = open(tmp_path / "leak", "w")
    try:
        r = b.cmd("run", "--bundle", b.path, b.id, pass_fds=(leak.fileno(),), timeout=60)
    finally:
        leak.close()
    assert r.rc == 0, r
    assert set(_fds(r.out)) == {"0", "1", "2"}, r.out


def test_no_fd_leak_into_exec(bundle, tmp_path):
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    leak = open(tmp_path / "leak", "w")
    try:
        r = b.exec(probe_args("fds"), pass_fds=(leak.fileno(),))
    finally:
        leak.close()
    assert r.rc == 0, r
    assert set(_fds(r.out)) == {"0", "1", "2"}, r.out


# ---- cwd must stay inside the root (CVE-2024-21626 "Leaky Vessels") --------------------------------

def _cwd_inside(r, b):
    if r.rc != 0:
        return
    lines = r.out.splitlines()
    assert lines and lines[0].startswith("/") and "unreachable" not in r.out, r.out
    assert not lines[0].startswith(str(b.path)), r.out
    assert "probe: getcwd" not in r.err, r


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_init_cwd_leaked_fd(bundle, fd):
    b = bundle(["/bin/sh", "-c", "/probe cwd; /probe ls .."], {"process": {"cwd": f"/proc/self/fd/{fd}"}})
    r = b.run()
    _cwd_inside(r, b)
    if r.rc == 0:
        assert "probe" in r.out.split(), "cwd/.. is not inside the container tree"
    else:
        assert b.leftovers() == []


@pytest.mark.parametrize("fd", [3, 4, 5, 6, 7, 8])
def test_exec_cwd_leaked_fd(bundle, fd):
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    r = b.exec(probe_args("cwd"), "--cwd", f"/proc/self/fd/{fd}")
    _cwd_inside(r, b)


# ---- the runtime binary must not be writable from the container (CVE-2019-5736) ------------------

def test_init_exe_not_writable_after_start(bundle, tmp_path):
    # Use a private copy of the runtime so a vulnerable runtime only damages the copy.
    rt = tmp_path / "runtime-copy"
    shutil.copy2(VSRV_BIN, rt)
    digest = sha256(rt)
    b = bundle(probe_args("sleep", 60))
    argv = [rt, "--root", b.root]
    r = run_cmd(argv + ["create", "--bundle", b.path, b.id], timeout=60)
    assert r.rc == 0, r
    pid = b.state()["pid"]
    # What the container can reach as /proc/1/exe while the runtime is its init:
    opath = os.open(f"/proc/{pid}/exe", os.O_PATH)
    try:
        r = run_cmd(argv + ["start", b.id], timeout=30)
        assert r.rc == 0, r
        wait_for(lambda: open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"/probe"), 10, what="exec probe")
        try:
            fd = os.open(f"/proc/self/fd/{opath}", os.O_WRONLY)
        except OSError as e:
            assert e.errno in (errno.ETXTBSY, errno.EPERM, errno.EACCES, errno.EROFS), e
        else:
            try:
                st = os.fstat(fd)
                assert (st.st_dev, st.st_ino) != (os.stat(rt).st_dev, os.stat(rt).st_ino), \
                    "container init's old /proc/self/exe is the host runtime binary, writable after exec"
            finally:
                os.close(fd)
    finally:
        os.close(opath)
    assert sha256(rt) == digest
    b.cmd("delete", "--force", b.id)


def test_exec_shebang_proc_self_exe(bundle, probe, tmp_path):
    # Private copy of the runtime: a vulnerable runtime only damages the copy.
    rt = tmp_path / "runtime-copy"
    shutil.copy2(VSRV_BIN, rt)
    digest = sha256(rt)
    b = bundle(["/bin/sh", "-c",
                "i=0; while [ $i -lt 100 ]; do for p in /proc/[0-9]*; do "
                "if [ $p != /proc/1 ] && /probe write $p/exe x >/dev/null 2>&1; then echo PWNED $p; fi; done; "
                "i=$((i+1)); done; /probe sleep 60"])
    b.add_mount("/tmp", "tmpfs", "tmpfs", ["mode=1777"])
    (b.rootfs / "bin" / "evil").write_text("#!/proc/self/exe\n")
    os.chmod(b.rootfs / "bin" / "evil", 0o755)
    with open(b.out_path, "ab") as fo:
        p = subprocess.run([rt, "--root", b.root, "run", "--detach", "--bundle", b.path, b.id],
                           stdin=subprocess.DEVNULL, stdout=fo, stderr=fo, timeout=60)
    assert p.returncode == 0, b.logs()
    for _ in range(5):
        run_cmd([rt, "--root", b.root, "exec", b.id, "/bin/evil"], timeout=30)
    r = run_cmd([rt, "--root", b.root, "exec", b.id] + probe_args("write", "/proc/self/exe", "x"), timeout=30)
    assert r.rc != 0 and "probe: /proc/self/exe:" in r.err, r
    assert "PWNED" not in b.out(), b.logs()
    assert sha256(rt) == digest
    assert sha256(b.rootfs / "probe") == sha256(probe)


def _guard_of_exec(b, tmp_path, *opts, argv=("/probe", "exit", "0")):
    """The guard `vsrv exec` chose (runtime/exec_guard.h), from its --debug log: the last line
    (after a re-exec, the re-executed vsrv's, which runs protected and says "direct")."""
    log = tmp_path / f"exec-{len(list(tmp_path.glob('exec-*.log')))}.log"
    r = vsrv("--debug", "--log", str(log), "exec", *opts, b.id, *argv, root=b.root)
    assert r.rc == 0, r
    return [l.split("guard ", 1)[1].strip() for l in log.read_text().splitlines() if "guard " in l]


def test_exec_uses_the_trampoline_by_default(bundle, tmp_path):
    # A default container (no CAP_SYS_PTRACE, CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE anywhere):
    # the host binary stays protected without a second start of vsrv. A read-only install (on
    # which vsrv needs no guard at all) says "direct" instead: skip then.
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    guards = _guard_of_exec(b, tmp_path)
    if guards == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    assert guards == ["trampoline"], guards
    r = b.exec(probe_args("readlink", "/proc/self/exe"))
    assert r.rc == 0 and r.out.strip() == "/probe", r


def test_exec_granting_ptrace_is_recorded_and_later_execs_reexec(bundle, tmp_path):
    # Given a default container
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    if _guard_of_exec(b, tmp_path) == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    mark = b.root / b.id / "exec-caps"
    assert not mark.exists()
    # When an exec gives its process CAP_SYS_PTRACE (which could open /proc/PID/exe of a later
    # exec's child while that child is still the host binary)
    r = b.exec(probe_args("caps"), "--cap", "CAP_SYS_PTRACE")
    assert r.rc == 0, r
    assert parse_caps(r.out)["CapEff"] & (1 << 19), r.out  # --cap works without inheritable caps
    # Then that is recorded for good (a file of its own, which no state write can drop), and
    # every later exec re-executes vsrv instead
    assert mark.exists()
    assert _guard_of_exec(b, tmp_path) == ["re-exec", "direct"]


def test_exec_into_ptrace_capable_container_reexecs(bundle, tmp_path):
    caps = ["CAP_KILL", "CAP_SYS_PTRACE"]
    b = bundle(probe_args("sleep", 60), overrides={"process": {"capabilities": {
        "bounding": caps, "effective": caps, "permitted": caps}}})
    b.run_detached()
    guards = _guard_of_exec(b, tmp_path)
    assert guards in (["re-exec", "direct"], ["direct"]), guards


@pytest.mark.parametrize("nnp,deny_execveat,want", [
    (False, False, ["trampoline"]),
    (False, True, ["re-exec", "direct"]),
    (True, True, ["trampoline"]),
], ids=["early-allows-execveat", "early-denies-execveat", "late-denies-execveat"])
def test_exec_with_seccomp_filter(bundle, tmp_path, nnp, deny_execveat, want):
    # Without noNewPrivileges (podman's and Kubernetes' default) the filter is loaded before the
    # uid switch, so it also judges the trampoline's execveat and fcntl. vsrv asks the filter
    # first (runtime/seccomp_eval.h): the trampoline when it allows them, else the re-exec. With
    # noNewPrivileges the trampoline loads the filter itself, after its own execveat. Every way,
    # the exec'd process runs under the filter.
    rules = [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
    if deny_execveat:
        rules.append({"names": ["execveat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
    b = bundle(probe_args("sleep", 60), overrides={
        "process": {"noNewPrivileges": nnp},
        "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": rules}}})
    b.run_detached()
    guards = _guard_of_exec(b, tmp_path)
    if guards == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    assert guards == want, guards
    r = b.exec(probe_args("hostname"))
    assert r.rc != 0 and "uname" in r.err and "ENOMSG" in r.err, r  # errno 42, from the filter


@pytest.mark.parametrize("caps", [["CAP_KILL", "CAP_SYS_PTRACE"], ["CAP_KILL"]], ids=["ptrace", "default"])
def test_exec_child_exe_cannot_be_grabbed_from_container(bundle, tmp_path, caps):
    # The CVE-2019-5736 attack through /proc/PID/exe: a process in the container keeps an O_PATH
    # fd of the exe of every process that appears (vsrv's exec child among them) and reopens each
    # for writing once vsrv has exited. With CAP_SYS_PTRACE it can open a non-dumpable process's
    # exe, so vsrv must not leave its host binary there (it re-executes: runtime/exec_guard.h);
    # without, the trampoline keeps the window closed by non-dumpability alone.
    rt = tmp_path / "runtime-copy"
    shutil.copy2(VSRV_BIN, rt)
    digest, ino = sha256(rt), os.stat(rt).st_ino
    b = bundle(probe_args("grab-exes", 4), overrides={"process": {"capabilities": {
        "bounding": caps, "effective": caps, "permitted": caps}}})
    with open(b.out_path, "ab") as fo:
        p = subprocess.run([rt, "--root", b.root, "run", "--detach", "--bundle", b.path, b.id],
                           stdin=subprocess.DEVNULL, stdout=fo, stderr=fo, timeout=60)
    assert p.returncode == 0, b.logs()
    n = 0
    while "done" not in b.out() and n < 400:
        run_cmd([rt, "--root", b.root, "exec", b.id, "/probe", "exit", "0"], timeout=30)
        n += 1
    wait_for(lambda: "done" in b.out(), 15, what="probe grab-exes to finish")
    assert f"WRITABLE {ino}" not in b.out(), b.logs()
    assert sha256(rt) == digest


def _guards_in(log):
    return [l.split("guard ", 1)[1].strip() for l in log.read_text().splitlines() if "guard " in l]


def test_created_init_is_the_sealed_trampoline(bundle, tmp_path):
    # A new pid namespace: no container process can see the init while it is vsrv, and from
    # ChildReady on (state "created") it is the trampoline in its sealed memfd, waiting on
    # exec.fifo; `start` lets it exec the container's program (runtime/exec_guard.h).
    b = bundle(probe_args("sleep", 60))
    log = tmp_path / "create.log"
    r = vsrv("--debug", "--log", str(log), "create", "--bundle", str(b.path), b.id, root=b.root)
    assert r.rc == 0, r
    guards = _guards_in(log)
    if guards == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    assert guards == ["trampoline"], guards
    pid = b.state()["pid"]
    exe = os.readlink(f"/proc/{pid}/exe")
    assert exe.startswith("/memfd:vsrv-exec"), exe
    fd = os.open(f"/proc/{pid}/exe", os.O_RDONLY)
    try:
        with pytest.raises(OSError):  # sealed against writes
            os.write(os.open(f"/proc/self/fd/{fd}", os.O_WRONLY), b"x")
    finally:
        os.close(fd)
    b.start()
    wait_for(lambda: os.readlink(f"/proc/{pid}/exe") == "/probe" or
             os.readlink(f"/proc/{pid}/exe").endswith("/probe"), 10, what="the init to exec the probe")
    b.cmd("delete", "--force", b.id)


def _shared(log):
    return sum("shared vsrv's memory" in l for l in log.read_text().splitlines())


def test_child_shares_vsrvs_memory_only_when_it_never_waits(bundle, tmp_path):
    # Given a default container: its init and an exec go through the trampoline and never wait
    # for the parent before their execve, so spawn() clones them into vsrv's memory
    # (CLONE_VM|CLONE_VFORK, runtime/launcher.h), and both still work end to end.
    b = bundle(probe_args("sleep", 60))
    log = tmp_path / "create.log"
    r = vsrv("--debug", "--log", str(log), "create", "--bundle", str(b.path), b.id, root=b.root)
    assert r.rc == 0, r
    if _guards_in(log) == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no trampoline")
    if "a sanitizer build shares no stacks" in log.read_text():
        b.cmd("delete", "--force", b.id)
        pytest.skip("sanitizer build: the child is always a copy (ASan tracks one stack per thread)")
    assert _shared(log) == 1, log.read_text()
    b.start()
    elog = tmp_path / "exec.log"
    r = vsrv("--debug", "--log", str(elog), "exec", b.id, *probe_args("hostname"), root=b.root)
    assert r.rc == 0 and r.out.strip(), r
    assert _shared(elog) == 1, elog.read_text()
    # A failed execve in such a child still comes back as one clear error.
    r = vsrv("exec", b.id, "/no/such/program", root=b.root)
    assert r.rc != 0 and "/no/such/program" in r.err, r
    b.cmd("delete", "--force", b.id)

    # When the parent has work while the child waits (a createRuntime hook), the child is a copy.
    mark = tmp_path / "hook-ran"
    h = bundle(probe_args("exit", "0"), {"hooks": {"createRuntime": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"touch {mark}"]}]}})
    hlog = tmp_path / "hooks.log"
    r = vsrv("--debug", "--log", str(hlog), "run", "--bundle", str(h.path), h.id, root=h.root)
    assert r.rc == 0, r
    assert mark.exists()
    assert _shared(hlog) == 0, hlog.read_text()


@pytest.mark.parametrize("deny", [None, "sendto"], ids=["filter-allows", "filter-denies-sendto"])
def test_init_with_early_seccomp_filter(bundle, tmp_path, deny):
    # Loaded before the uid switch, the init's filter also judges the trampoline's ChildReady
    # (sendto) and exec.fifo wait: vsrv asks it first and re-executes when it would refuse.
    rules = [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 42}]
    if deny:
        rules.append({"names": [deny], "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
    b = bundle(probe_args("hostname"), overrides={
        "process": {"noNewPrivileges": False},
        "linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW",
                              "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": rules}}})
    log = tmp_path / "run.log"
    r = vsrv("--debug", "--log", str(log), "run", "--bundle", str(b.path), b.id, root=b.root)
    guards = _guards_in(log)
    if guards == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    assert guards == (["re-exec", "direct"] if deny else ["trampoline"]), guards
    assert r.rc != 0 and "uname" in r.err and "ENOMSG" in r.err, r  # the filter holds in the container


def test_init_sharing_a_pid_namespace_reexecs(bundle, tmp_path):
    # Joined by path, the pid namespace may hold another container's processes, which could see
    # the init while it is still vsrv: vsrv re-executes itself first, as before.
    a = bundle(probe_args("sleep", 60))
    a.run_detached()
    pid = a.state()["pid"]
    b = bundle(probe_args("sleep", 60))
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "pid"] + \
        [{"type": "pid", "path": f"/proc/{pid}/ns/pid"}]
    b.save()
    log = tmp_path / "create.log"
    r = vsrv("--debug", "--log", str(log), "run", "--detach", "--bundle", str(b.path), b.id, root=b.root)
    assert r.rc == 0, r
    guards = _guards_in(log)
    if guards == ["direct"]:
        pytest.skip("vsrv runs from a read-only mount or sealed copy here: no guard needed")
    assert guards == ["re-exec", "direct"], guards
    b.cmd("delete", "--force", b.id)


def test_exec_process_exe_is_payload(bundle):
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    r = b.exec(probe_args("readlink", "/proc/self/exe"))
    assert r.rc == 0 and r.out.strip() == "/probe", r


# ---- capabilities (CVE-2022-29162) ---------------------------------------------------------------

def test_spec_has_no_inheritable_caps(vsrv_bin, tmp_path):
    r = vsrv("spec", cwd=tmp_path)
    assert r.rc == 0, r
    caps = json.loads((tmp_path / "config.json").read_text())["process"].get("capabilities", {})
    assert not caps.get("inheritable"), caps


def test_default_no_inheritable_caps(bundle):
    b = bundle(probe_args("caps"))
    r = b.run()
    assert r.rc == 0, r
    c = parse_caps(r.out)
    assert c["CapInh"] == 0 and c["CapAmb"] == 0, r.out


def test_exec_no_inheritable_caps(bundle):
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    r = b.exec(probe_args("caps"))
    assert r.rc == 0, r
    c = parse_caps(r.out)
    assert c["CapInh"] == 0, r.out
    assert c["CapBnd"] == cap_mask(b.config["process"]["capabilities"].get("bounding")), r.out


def test_exec_cannot_gain_caps_beyond_bounding(bundle):
    b = bundle(probe_args("sleep", 60))
    b.run_detached()
    r = b.exec(probe_args("caps"), "--cap", "CAP_SYS_ADMIN")
    if r.rc == 0:
        c = parse_caps(r.out)
        bnd = cap_mask(b.config["process"]["capabilities"].get("bounding"))
        # --cap adds to the exec'd process; it must still be within what exec granted explicitly.
        assert c["CapEff"] & ~(bnd | cap_mask(["CAP_SYS_ADMIN"])) == 0, r.out


def test_no_host_pid_visible(bundle):
    r = bundle(probe_args("ls", "/proc")).run()
    assert r.rc == 0, r
    pids = sorted(int(x) for x in r.out.split() if x.isdigit())
    assert pids == [1], r.out


def test_host_sysctls_not_writable(bundle):
    # Writes the host's current value back, so even a vulnerable runtime changes nothing.
    cur = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    r = bundle(["/bin/sh", "-c", f"/probe write /proc/sys/kernel/core_pattern '{cur}'; "
                "/probe write /proc/sys/vm/drop_caches 0; true"]).run()
    assert r.rc == 0, r
    assert "ok" not in r.out.split(), r
    assert Path("/proc/sys/kernel/core_pattern").read_text().strip() == cur


def test_init_cwd_through_preserved_host_dir_fd_refused(bundle, tmp_path):
    # A host directory handed in on purpose (--preserve-fds) is still no way out: chdir through
    # /proc/self/fd/3 lands outside the root, and the runtime must refuse that cwd itself
    # (the getcwd check after chdir), not rely on the fd being closed.
    hostdir = tmp_path / "hostdir"
    hostdir.mkdir()
    b = bundle(["/probe", "cwd"], {"process": {"cwd": "/proc/self/fd/3"}})
    r = run_cmd(["sh", "-c", 'exec 3<"$1"; shift; exec "$@"', "sh", str(hostdir), VSRV_BIN, "--root", b.root,
                 "run", "--preserve-fds", "1", "--bundle", b.path, b.id], timeout=30)
    assert r.rc != 0, f"cwd through a preserved host fd was accepted: {r}"
    assert "outside the container's root" in r.err, r
    assert str(hostdir) not in r.out
