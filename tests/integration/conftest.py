"""Shared fixtures for vsrv integration tests (real containers; needs root).

Run:  VSRV_BIN=/work/main/build/cli/vsrv /usr/bin/python3 -m pytest -ra tests/integration
The suite is runtime-agnostic: pointing VSRV_BIN at /usr/sbin/runc validates the fixtures.

Fixtures:
  vsrv_bin  path of the runtime under test (skips when missing / not root)
  probe     path of the static probe binary built from tests/probe/probe.c
  base_rootfs  minimal rootfs: /probe, /bin/busybox + applets, /etc/{passwd,group}, empty dirs
  bundle    factory: bundle(args=[...], overrides={...}) -> Bundle (config from `$VSRV_BIN spec`)
  features  parsed `$VSRV_BIN features` JSON ({} when the command fails)
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BIN = str(REPO / "build" / "cli" / "vsrv")
VSRV_BIN = os.environ.get("VSRV_BIN", DEFAULT_BIN)
# Both can be overridden where the test machine has no busybox-static or gcc (scripts/device-v2.sh).
BUSYBOX = os.environ.get("VSRV_BUSYBOX", "/bin/busybox")
PREBUILT_PROBE = os.environ.get("VSRV_PROBE")
APPLETS = ("sh ls cat sleep true false echo nc ip ping id env mkdir rm mount umount ps kill grep hostname "
           "uname readlink stat touch chmod wc head tail test printf ln cp mv sed tr dd sync").split()
CGROUP_ROOT = "/sys/fs/cgroup"


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # Behave as if -ra was given, so skip reasons are always listed in the summary.
    tr = config.pluginmanager.getplugin("terminalreporter")
    if tr is not None and "s" not in tr.reportchars and "a" not in tr.reportchars:
        tr.reportchars += "sxX"


# ----------------------------------------------------------------------------------------------
# Running commands


class Result:
    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    @property
    def all(self):
        return self.out + self.err

    def __repr__(self):
        return f"Result(rc={self.rc}, argv={self.argv!r}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def run_cmd(argv, timeout=30, stdin=subprocess.DEVNULL, input=None, cwd=None, env=None, pass_fds=()):
    """Run argv with stdout/stderr in temp files (not pipes: a detached container that inherits
    them must not make us wait for EOF). Returns Result; a timeout fails the test."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        io = {"stdin": stdin} if input is None else {"input": input.encode() if isinstance(input, str) else input}
        try:
            p = subprocess.run([str(a) for a in argv], **io,
                               stdout=fo, stderr=fe, timeout=timeout, cwd=cwd, env=env, pass_fds=pass_fds)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            fo.seek(0), fe.seek(0)
            pytest.fail(f"timeout after {timeout}s: {argv}\nout={fo.read()[-2000:]!r}\nerr={fe.read()[-2000:]!r}")
        fo.seek(0), fe.seek(0)
        return Result(argv, rc, fo.read().decode(errors="replace"), fe.read().decode(errors="replace"))


def vsrv(*args, root=None, **kw):
    argv = [VSRV_BIN] + (["--root", str(root)] if root else []) + [str(a) for a in args]
    return run_cmd(argv, **kw)


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(interval)


def deep_merge(base, over):
    """Merge `over` into `base` (dicts recurse, other values replace, None deletes)."""
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        elif isinstance(v, dict) and isinstance(base.get(k), dict):
            deep_merge(base[k], v)
        else:
            base[k] = v
    return base


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def mountinfo_lines(needle):
    with open("/proc/self/mountinfo") as f:
        return [l for l in f if needle in l]


def cgroup_dirs_named(cid):
    """Cgroup directories named after the container id (top level and one level down), in every
    hierarchy; never looks inside process_api."""
    found = []
    if not os.path.isdir(CGROUP_ROOT):
        return found
    for ctrl in os.listdir(CGROUP_ROOT):
        base = os.path.join(CGROUP_ROOT, ctrl)
        if ctrl == "process_api" or not os.path.isdir(base):
            continue
        cands = [os.path.join(base, cid)]
        try:
            for sub in os.listdir(base):
                if sub != "process_api" and os.path.isdir(os.path.join(base, sub)):
                    cands.append(os.path.join(base, sub, cid))
        except OSError:
            pass
        found += [c for c in cands if os.path.isdir(c)]
    return found


def procs_rooted_in(path):
    """PIDs of live processes whose root directory is `path` (i.e. leftover container processes).
    Compares (st_dev, st_ino) of /proc/PID/root with the rootfs: readlink is useless after
    pivot_root in another mount namespace (it reads "/")."""
    try:
        st = os.stat(path)
    except OSError:
        return []
    want = (st.st_dev, st.st_ino)
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            r = os.stat(f"/proc/{d}/root")
        except OSError:
            continue
        if (r.st_dev, r.st_ino) == want and pid_alive(int(d)):
            pids.append(int(d))
    return pids


def procs_with_arg(arg):
    """PIDs of live processes (not us) with `arg` as one of their argv words (e.g. a runtime
    process still working on this container id; ids are unique per test)."""
    want = arg.encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if want in argv and pid_alive(int(d)):
            pids.append(int(d))
    return pids


# ----------------------------------------------------------------------------------------------
# Session fixtures


@pytest.fixture(scope="session")
def vsrv_bin():
    if os.geteuid() != 0:
        pytest.skip("integration tests need root (namespaces, mounts, cgroups)")
    if not os.path.exists(VSRV_BIN):
        pytest.skip(f"runtime binary {VSRV_BIN} does not exist (set VSRV_BIN or build vsrv)")
    return VSRV_BIN


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("vsrv-session")


@pytest.fixture(scope="session")
def probe(session_dir):
    if PREBUILT_PROBE:
        return Path(PREBUILT_PROBE)
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed: cannot build tests/probe/probe.c")
    out = session_dir / "probe"
    r = run_cmd(["gcc", "-static", "-O2", "-o", out, REPO / "tests" / "probe" / "probe.c"], timeout=120)
    if r.rc != 0:
        pytest.fail(f"building probe failed: {r.err}")
    return out


@pytest.fixture(scope="session")
def base_rootfs(session_dir, probe):
    if not os.path.exists(BUSYBOX):
        pytest.skip(f"{BUSYBOX} missing (install busybox-static)")
    root = session_dir / "rootfs"
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "root"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(probe, root / "probe")
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for a in APPLETS:
        os.symlink("busybox", root / "bin" / a)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "alice:x:1000:1000:alice:/tmp:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text(
        "root:x:0:\n"
        "staff:x:50:alice\n"
        "alice:x:1000:\n"
        "nogroup:x:65534:\n")
    return root


@pytest.fixture(scope="session")
def features(vsrv_bin):
    r = vsrv("features", timeout=15)
    if r.rc != 0:
        return {}
    try:
        return json.loads(r.out)
    except ValueError:
        return {}


def _ver(v):
    parts = []
    for p in v.split("-")[0].split(".")[:3]:
        parts.append(int(p) if p.isdigit() else 0)
    return tuple(parts + [0] * (3 - len(parts)))


IS_RUNC = os.path.basename(VSRV_BIN) == "runc"


def _sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


# A sanitizer build (ASan tracks one stack per thread) starts none of vsrv's helpers that run
# on a stack of ours; tests of those helpers skip there, saying so.
IS_SANITIZED = _sanitized(VSRV_BIN)


def runc_deviation(reason):
    """xfail when the runtime under test is runc and runc is known to deviate from the spec here.
    Used only while validating the fixtures against runc; vsrv is always held to the spec."""
    if IS_RUNC:
        pytest.xfail(f"known runc deviation: {reason}")


def require_oci(features, version, what):
    """Skip unless `features.ociVersionMax` >= version (feature detection for spec 1.2 fields)."""
    mx = features.get("ociVersionMax", "0.0.0")
    if _ver(mx) < _ver(version):
        pytest.skip(f"{what} needs OCI runtime spec {version}; runtime features.ociVersionMax={mx}")


def require_namespace(features, ns):
    nss = features.get("linux", {}).get("namespaces")
    if nss is not None and ns not in nss:
        pytest.skip(f"runtime features.linux.namespaces lacks {ns!r}")


# ----------------------------------------------------------------------------------------------
# Bundles


class Bundle:
    def __init__(self, path, root, cid, rootfs, config):
        self.path, self.root, self.id, self.rootfs, self.config = Path(path), Path(root), cid, Path(rootfs), config
        self.out_path = self.path / "stdout.log"
        self.err_path = self.path / "stderr.log"
        self.procs = []  # Popen objects to reap at teardown

    # config
    def save(self):
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))

    def update(self, overrides):
        deep_merge(self.config, overrides)
        self.save()

    @property
    def linux(self):
        return self.config.setdefault("linux", {})

    def add_mount(self, destination, type_, source, options=None):
        m = {"destination": destination, "type": type_, "source": source}
        if options is not None:
            m["options"] = options
        self.config.setdefault("mounts", []).append(m)
        self.save()

    # commands
    def cmd(self, *args, **kw):
        return vsrv(*args, root=self.root, **kw)

    def run(self, *extra, timeout=60, **kw):
        """Foreground `run`: returns Result with the container's stdout/stderr."""
        return self.cmd("run", "--bundle", self.path, *extra, self.id, timeout=timeout, **kw)

    def _with_logs(self, *args, timeout=30, **kw):
        with open(self.out_path, "ab") as fo, open(self.err_path, "ab") as fe:
            argv = [VSRV_BIN, "--root", str(self.root)] + [str(a) for a in args]
            try:
                p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, timeout=timeout, **kw)
            except subprocess.TimeoutExpired:
                pytest.fail(f"timeout after {timeout}s: {argv}\n{self.logs()}")
        return Result(argv, p.returncode, "", self.err_path.read_text(errors="replace"))

    def create(self, *extra, check=True, **kw):
        """`create`; the container's stdio goes to stdout.log/stderr.log in the bundle."""
        r = self._with_logs("create", "--bundle", self.path, *extra, self.id, **kw)
        if check:
            assert r.rc == 0, f"create failed: {r}"
        return r

    def run_detached(self, *extra, check=True, **kw):
        r = self._with_logs("run", "--detach", "--bundle", self.path, *extra, self.id, **kw)
        if check:
            assert r.rc == 0, f"run --detach failed: {r}"
        return r

    def popen_run(self, *extra, env=None):
        """Foreground `run` as a child process with stdout/stderr to the bundle's log files."""
        fo, fe = open(self.out_path, "ab"), open(self.err_path, "ab")
        p = subprocess.Popen([VSRV_BIN, "--root", str(self.root), "run", "--bundle", str(self.path)] +
                             [str(a) for a in extra] + [self.id], stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=env)
        fo.close(), fe.close()
        self.procs.append(p)
        return p

    def out(self):
        return self.out_path.read_text(errors="replace") if self.out_path.exists() else ""

    def logs(self):
        err = self.err_path.read_text(errors="replace") if self.err_path.exists() else ""
        return f"stdout={self.out()[-2000:]!r} stderr={err[-2000:]!r}"

    def start(self, check=True):
        r = self.cmd("start", self.id)
        if check:
            assert r.rc == 0, f"start failed: {r}"
        return r

    def state(self):
        r = self.cmd("state", self.id, timeout=15)
        assert r.rc == 0, f"state failed: {r}"
        return json.loads(r.out)

    def status(self):
        r = self.cmd("state", self.id, timeout=15)
        if r.rc != 0:
            return None
        return json.loads(r.out).get("status")

    def wait_status(self, status, timeout=10):
        return wait_for(lambda: self.status() == status, timeout, what=f"{self.id} status {status}")

    def kill(self, *args, check=True):
        r = self.cmd("kill", *args[:-1], self.id, args[-1]) if args else self.cmd("kill", self.id)
        if check:
            assert r.rc == 0, f"kill failed: {r}"
        return r

    def delete(self, *extra, check=True):
        r = self.cmd("delete", *extra, self.id)
        if check:
            assert r.rc == 0, f"delete failed: {r}"
        return r

    def exec(self, argv, *opts, timeout=30, **kw):
        """`exec [opts] ID argv...`"""
        return self.cmd("exec", *opts, self.id, *argv, timeout=timeout, **kw)

    def state_dir(self):
        return self.root / self.id

    def leftovers(self):
        """Everything the container could leave behind; an empty list means clean."""
        left = []
        if self.state_dir().exists():
            left.append(f"state dir {self.state_dir()}")
        left += [f"mount: {l.strip()}" for l in mountinfo_lines(str(self.path))]
        left += [f"cgroup dir {d}" for d in cgroup_dirs_named(self.id)]
        left += [f"process {p} rooted in {self.rootfs}" for p in procs_rooted_in(self.rootfs)]
        left += [f"process {p} with the id in its argv" for p in procs_with_arg(self.id)]
        return left

    def force_cleanup(self):
        """Last resort after a failure: kill our own leftover processes, unmount, remove cgroups."""
        for p in procs_rooted_in(self.rootfs) + procs_with_arg(self.id):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for l in reversed(mountinfo_lines(str(self.path))):
            mp = l.split()[4]
            subprocess.run(["umount", "-l", mp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for d in cgroup_dirs_named(self.id):
            for sub, _, _ in sorted(os.walk(d), key=lambda t: -len(t[0])):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass


def default_config(vsrv_bin, tmpdir):
    """The runtime's own `spec` output (cached per test in tmpdir)."""
    d = Path(tmpdir) / "spec-template"
    d.mkdir(exist_ok=True)
    if not (d / "config.json").exists():
        r = vsrv("spec", cwd=d, timeout=15)
        assert r.rc == 0 and (d / "config.json").exists(), f"`spec` failed: {r}"
    return json.loads((d / "config.json").read_text())


@pytest.fixture
def bundle(vsrv_bin, base_rootfs, tmp_path, request):
    """Factory: bundle(args=None, overrides=None, rootfs=None, root=None) -> Bundle.

    The config is `$VSRV_BIN spec` output with terminal=false, the given args, an absolute rootfs
    path (a private copy of base_rootfs), then `overrides` deep-merged. Each bundle gets a unique id
    and (unless shared via root=) its own --root state dir. Teardown always runs `delete --force`
    and fails the test if anything is left (state dir, mounts, cgroup dirs, processes)."""
    made = []
    counter = [0]
    tmpl = default_config(vsrv_bin, tmp_path)

    def make(args=None, overrides=None, rootfs=None, root=None, cid=None, save=True):
        counter[0] += 1
        n = counter[0]
        bdir = tmp_path / f"bundle{n}"
        bdir.mkdir()
        rfs = bdir / "rootfs"
        shutil.copytree(rootfs or base_rootfs, rfs, symlinks=True)
        cfg = json.loads(json.dumps(tmpl))
        cfg.setdefault("process", {})
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = list(args or ["/probe", "exit", "0"])
        cfg["root"] = dict(cfg.get("root", {}), path=str(rfs))
        if overrides:
            deep_merge(cfg, json.loads(json.dumps(overrides)))
        state_root = Path(root) if root else tmp_path / f"state{n}"
        state_root.mkdir(exist_ok=True)
        name = "".join(c if c.isalnum() else "-" for c in request.node.name)[:24].strip("-")
        b = Bundle(bdir, state_root, cid or f"vt-{name}-{uuid.uuid4().hex[:8]}", rfs, cfg)
        if save:
            b.save()
        made.append(b)
        return b

    yield make

    problems = []
    for b in made:
        try:
            b.cmd("delete", "--force", b.id, timeout=30)
        except pytest.fail.Exception as e:  # a hung delete must not stop the cleanup
            problems.append(f"{b.id}: delete --force: {e}")
        for p in b.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        end = time.monotonic() + 5
        left = b.leftovers()
        while left and time.monotonic() < end:
            time.sleep(0.1)
            left = b.leftovers()
        if left:
            problems.append(f"{b.id}: " + "; ".join(left))
            b.force_cleanup()
    if problems:
        pytest.fail("left behind after delete --force:\n" + "\n".join(problems))


def probe_args(*args):
    return ["/probe"] + [str(a) for a in args]


def cap_mask(names):
    """Bit mask for capability names (CAP_*), as shown in /proc/self/status."""
    mask = 0
    for n in names or []:
        mask |= 1 << CAPS[n]
    return mask


CAPS = {n: i for i, n in enumerate(
    "CAP_CHOWN CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID "
    "CAP_SETPCAP CAP_LINUX_IMMUTABLE CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_ADMIN CAP_NET_RAW "
    "CAP_IPC_LOCK CAP_IPC_OWNER CAP_SYS_MODULE CAP_SYS_RAWIO CAP_SYS_CHROOT CAP_SYS_PTRACE CAP_SYS_PACCT "
    "CAP_SYS_ADMIN CAP_SYS_BOOT CAP_SYS_NICE CAP_SYS_RESOURCE CAP_SYS_TIME CAP_SYS_TTY_CONFIG CAP_MKNOD "
    "CAP_LEASE CAP_AUDIT_WRITE CAP_AUDIT_CONTROL CAP_SETFCAP CAP_MAC_OVERRIDE CAP_MAC_ADMIN CAP_SYSLOG "
    "CAP_WAKE_ALARM CAP_BLOCK_SUSPEND CAP_AUDIT_READ CAP_PERFMON CAP_BPF CAP_CHECKPOINT_RESTORE".split())}


def parse_caps(text):
    return {l.split(":")[0]: int(l.split(":")[1].strip(), 16) for l in text.splitlines() if l.startswith("Cap")}
