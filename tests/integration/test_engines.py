"""vsrv under real engines: podman (via conmon) and containerd (via containerd-shim-runc-v2 --runc-binary).

Engines come from Debian (scripts/engines.sh). They are installed by the suite only when
VSRV_ENGINE_TESTS=1; otherwise these tests run when podman and containerd are already present, and
skip (with the reason) when they are not. Everything is private to a temp dir: podman storage
(vfs), runroot, tmpdir and containers.conf (CONTAINERS_CONF); a containerd daemon with its own
config, root, state and socket (killed by PID at the end) and the runtime's --root (--runc-root).
No registry is reachable here: images are made from the test rootfs (podman import of a tar; an OCI
image layout built by hand for `ctr images import`).

podman only passes `--log-format=json` (and parses JSON errors) for runtimes named in
containers.conf `runtime_supports_json`; the private containers.conf adds "vsrv" to the stock list:
    runtime_supports_json = ["crun","runc","kata","runsc","youki","krun","ocijail","vsrv"]
"""
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from conftest import REPO, VSRV_BIN, mountinfo_lines, run_cmd, wait_for

CGROUP_ROOT = "/sys/fs/cgroup"
IMAGE = "localhost/vsrvtest:latest"


def _have(*names):
    return all(shutil.which(n) for n in names)


@pytest.fixture(scope="module")
def engines(vsrv_bin):
    if os.environ.get("VSRV_ENGINE_TESTS") == "1" or _have("podman", "containerd", "ctr"):
        r = run_cmd(["bash", REPO / "scripts" / "engines.sh"], timeout=900)
        if r.rc != 0:
            pytest.fail(f"scripts/engines.sh failed: {r}")
    if not _have("podman", "containerd", "ctr", "containerd-shim-runc-v2"):
        pytest.skip("podman/containerd not installed (run scripts/engines.sh or set VSRV_ENGINE_TESTS=1)")
    return True


def _cgroup_snapshot():
    dirs = set()
    for ctrl in os.listdir(CGROUP_ROOT):
        base = os.path.join(CGROUP_ROOT, ctrl)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, _ in os.walk(base):
            dirnames[:] = [d for d in dirnames if d != "process_api"]
            dirs.add(dirpath)
    return dirs


def _remove_new_cgroups(before):
    """rmdir (deepest first) the cgroup dirs the engines created during the module; returns those left."""
    new = sorted(_cgroup_snapshot() - before, key=lambda d: -d.count("/"))
    left = []
    for d in new:
        try:
            os.rmdir(d)
        except OSError:
            left.append(d)
    return left


def _tar_rootfs(rootfs, dest):
    with tarfile.open(dest, "w") as t:
        for p in sorted(Path(rootfs).rglob("*")):
            t.add(p, arcname=str(p.relative_to(rootfs)), recursive=False)
    return dest


def _pids_with(needle):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if needle.encode() in Path(f"/proc/{d}/cmdline").read_bytes():
                    pids.append(int(d))
            except OSError:
                pass
    return pids


# ---- podman ------------------------------------------------------------------------------------------

class Podman:
    def __init__(self, d):
        self.d = Path(d)
        conf = self.d / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'netns = "none"\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            'runtime_supports_json = ["crun","runc","kata","runsc","youki","krun","ocijail","vsrv"]\n'
            "[engine.runtimes]\n"
            f'vsrv = ["{VSRV_BIN}"]\n')
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf), TMPDIR=str(self.d / "tmp"))
        (self.d / "tmp").mkdir()
        self.base = ["podman", "--root", self.d / "storage", "--runroot", self.d / "runroot", "--tmpdir", self.d / "libpod",
                     "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
                     "--runtime", VSRV_BIN]
        # No --runtime-flag root=...: conmon's exit command (podman container cleanup) does not carry
        # runtime flags, so the runtime's default --root is used throughout.

    def __call__(self, *args, timeout=120):
        return run_cmd(self.base + list(args), timeout=timeout, env=self.env)


RUN_OPTS = ["--network", "none", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


@pytest.fixture(scope="module")
def podman(engines, base_rootfs, tmp_path_factory):
    d = tmp_path_factory.mktemp("podman")
    cg_before = _cgroup_snapshot()
    p = Podman(d)
    tar = _tar_rootfs(base_rootfs, d / "rootfs.tar")
    r = p("import", tar, IMAGE)
    assert r.rc == 0, r
    yield p
    p("rm", "--all", "--force", "--time", "0")
    left = [l.split()[4] for l in mountinfo_lines(str(d))]
    for mp in reversed(left):
        subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
    p("rmi", "--all", "--force")
    cg_left = _remove_new_cgroups(cg_before)
    subprocess.run(["rm", "-rf", "--one-file-system", str(d)], stderr=subprocess.DEVNULL)
    assert not left, f"podman left mounts: {left}"
    assert not cg_left, f"cgroup dirs left: {cg_left}"


def test_podman_run_rm(podman):
    r = podman("run", "--rm", *RUN_OPTS, "--hostname", "podhost", IMAGE, "/probe", "hostname")
    assert r.rc == 0, r
    assert r.out.strip() == "podhost"
    assert podman("ps", "-aq").out.strip() == ""


def test_podman_exit_code(podman):
    r = podman("run", "--rm", *RUN_OPTS, IMAGE, "/probe", "exit", "9")
    assert r.rc == 9, r


def test_podman_run_user_env(podman):
    r = podman("run", "--rm", *RUN_OPTS, "--user", "1000:1000", "--env", "PODVAR=1", IMAGE, "/bin/sh", "-c",
               "/probe id; /probe env")
    assert r.rc == 0, r
    assert "uid=1000 gid=1000" in r.out and "PODVAR=1" in r.out.splitlines()


def test_podman_exec_stop_rm(podman):
    name = f"vsrv-pod-{os.getpid()}"
    r = podman("run", "-d", "--name", name, *RUN_OPTS, IMAGE, "/probe", "sleep", "120")
    assert r.rc == 0, r
    try:
        r = podman("exec", name, "/probe", "id")
        assert r.rc == 0 and "uid=0" in r.out, r
        r = podman("exec", "--user", "1000", "--workdir", "/tmp", name, "/probe", "cwd")
        assert r.rc == 0 and r.out.strip() == "/tmp", r
        r = podman("exec", name, "/probe", "exit", "4")
        assert r.rc == 4, r
        r = podman("inspect", "--format", "{{.State.Status}}", name)
        assert r.out.strip() == "running", r
        t = time.monotonic()
        r = podman("stop", "--time", "10", name)
        assert r.rc == 0, r
        assert time.monotonic() - t < 10, "SIGTERM did not stop the container (podman fell back to SIGKILL)"
        r = podman("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name)
        assert r.out.split() == ["exited", str(128 + signal.SIGTERM)], r
        r = podman("start", name)
        assert r.rc == 0, r
        r = podman("kill", name)
        assert r.rc == 0, r
    finally:
        r = podman("rm", "--force", "--time", "0", name)
    assert r.rc == 0, r
    assert name not in podman("ps", "-a", "--format", "{{.Names}}").out


def test_podman_logs(podman):
    name = f"vsrv-podlog-{os.getpid()}"
    r = podman("run", "--name", name, *RUN_OPTS, IMAGE, "/probe", "hostname")
    assert r.rc == 0, r
    r = podman("logs", name)
    assert r.rc == 0 and r.out.strip(), r
    assert podman("rm", name).rc == 0


def test_podman_runtime_error_reported(podman):
    r = podman("run", "--rm", *RUN_OPTS, IMAGE, "/no/such/binary")
    assert r.rc in (126, 127), r
    assert "no such file" in r.err.lower() or "not found" in r.err.lower(), r


# ---- containerd ---------------------------------------------------------------------------------------

def _oci_layout(rootfs, dest_tar):
    """OCI image layout (index.json, oci-layout, blobs) for the rootfs, as a tar for `ctr images import`."""
    blobs = {}

    def add(data, media):
        dg = hashlib.sha256(data).hexdigest()
        blobs[dg] = data
        return {"mediaType": media, "digest": f"sha256:{dg}", "size": len(data)}

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for p in sorted(Path(rootfs).rglob("*")):
            t.add(p, arcname=str(p.relative_to(rootfs)), recursive=False)
    layer = buf.getvalue()
    layer_desc = add(layer, "application/vnd.oci.image.layer.v1.tar")
    cfg = {"architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/probe", "hostname"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
           "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]}}
    cfg_desc = add(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cfg_desc, "layers": [layer_desc]}
    man_desc = add(json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json")
    man_desc["annotations"] = {"io.containerd.image.name": IMAGE, "org.opencontainers.image.ref.name": "latest"}
    man_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [man_desc]}

    def member(t, name, data):
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o644
        t.addfile(ti, io.BytesIO(data))

    with tarfile.open(dest_tar, "w") as t:
        member(t, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
        member(t, "index.json", json.dumps(index).encode())
        for dg, data in blobs.items():
            member(t, f"blobs/sha256/{dg}", data)
    return dest_tar


class Containerd:
    NS = "vsrvtest"

    def __init__(self, d):
        self.d = Path(d)
        self.sock = str(self.d / "containerd.sock")
        self.runc_root = str(self.d / "runtime-root")
        cfg = self.d / "config.toml"
        cfg.write_text(
            "version = 2\n"
            f'root = "{self.d / "root"}"\n'
            f'state = "{self.d / "state"}"\n'
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            "[grpc]\n"
            f'  address = "{self.sock}"\n'
            "[ttrpc]\n"
            f'  address = "{self.sock}.ttrpc"\n'
            "[debug]\n"
            f'  address = "{self.d / "debug.sock"}"\n'
            "[metrics]\n"
            '  address = ""\n')
        self.log = open(self.d / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(cfg)], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log, start_new_session=True)

    def ctr(self, *args, timeout=120):
        return run_cmd(["ctr", "--address", self.sock, "--namespace", self.NS] + [str(a) for a in args], timeout=timeout)

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                pytest.fail(f"containerd exited: {(self.d / 'containerd.log').read_text()[-3000:]}")
            return os.path.exists(self.sock) and self.ctr("version", timeout=10).rc == 0
        wait_for(ready, 30, 0.2, what="containerd socket")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


RUNC_OPTS = lambda cd: ["--snapshotter", "native", "--runtime", "io.containerd.runc.v2",
                        "--runc-binary", VSRV_BIN, "--runc-root", cd.runc_root]


@pytest.fixture(scope="module")
def containerd(engines, base_rootfs, tmp_path_factory):
    d = tmp_path_factory.mktemp("containerd")
    cg_before = _cgroup_snapshot()
    cd = Containerd(d)
    try:
        cd.wait_ready()
        tar = _oci_layout(base_rootfs, d / "image.tar")
        r = cd.ctr("images", "import", "--snapshotter", "native", tar)
        assert r.rc == 0, r
        assert IMAGE in cd.ctr("images", "ls", "-q").out, "imported image not listed"
        yield cd
    finally:
        for line in cd.ctr("tasks", "ls", "-q").out.split():
            cd.ctr("tasks", "kill", "-s", "SIGKILL", line)
            time.sleep(0.5)
            cd.ctr("tasks", "rm", "-f", line)
        for line in cd.ctr("containers", "ls", "-q").out.split():
            cd.ctr("containers", "rm", line)
        cd.stop()
        shims = _pids_with(cd.sock)
        for pid in shims:  # shims started by our daemon (their cmdline names our socket)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        mounts = [l.split()[4] for l in mountinfo_lines(str(d))]
        for mp in reversed(mounts):
            subprocess.run(["umount", "-l", mp], stderr=subprocess.DEVNULL)
        cg_left = _remove_new_cgroups(cg_before)
        subprocess.run(["rm", "-rf", "--one-file-system", str(d)], stderr=subprocess.DEVNULL)
    assert not shims, f"containerd shims left running: {shims}"
    assert not mounts, f"containerd left mounts: {mounts}"
    assert not cg_left, f"cgroup dirs left: {cg_left}"


def test_ctr_run_rm(containerd):
    cid = f"vsrv-ctr-{os.getpid()}"
    r = containerd.ctr("run", "--rm", "--env", "CTRVAR=1", *RUNC_OPTS(containerd), IMAGE, cid,
                       "/bin/sh", "-c", "/probe env; exec /probe pid")
    assert r.rc == 0, r
    lines = r.out.split()
    assert lines[-1] == "1" and "CTRVAR=1" in lines, r  # own pid namespace; env from ctr
    assert cid not in containerd.ctr("containers", "ls", "-q").out


def test_ctr_exit_status(containerd):
    cid = f"vsrv-ctrx-{os.getpid()}"
    r = containerd.ctr("run", "--rm", *RUNC_OPTS(containerd), IMAGE, cid, "/probe", "exit", "6")
    assert r.rc == 6, r


def test_ctr_exec_kill_rm(containerd):
    cid = f"vsrv-ctrd-{os.getpid()}"
    r = containerd.ctr("run", "-d", "--null-io", *RUNC_OPTS(containerd), IMAGE, cid, "/probe", "sleep", "120")
    assert r.rc == 0, r
    try:
        wait_for(lambda: "RUNNING" in containerd.ctr("tasks", "ls").out, 20, what="task running")
        # the runtime's state is in its private --root
        assert (Path(containerd.runc_root) / containerd.NS / cid).is_dir()
        r = containerd.ctr("tasks", "exec", "--exec-id", "e1", cid, "/probe", "id")
        assert r.rc == 0 and "uid=0" in r.out, r
        r = containerd.ctr("tasks", "exec", "--exec-id", "e2", cid, "/probe", "exit", "3")
        assert r.rc == 3, r
        r = containerd.ctr("tasks", "ps", cid)
        assert r.rc == 0, r
        r = containerd.ctr("tasks", "kill", "-s", "SIGTERM", cid)
        assert r.rc == 0, r
        wait_for(lambda: "STOPPED" in containerd.ctr("tasks", "ls").out, 20, what="task stopped")
    finally:
        containerd.ctr("tasks", "rm", "-f", cid)
        r = containerd.ctr("containers", "rm", cid)
    assert r.rc == 0, r
    assert not (Path(containerd.runc_root) / containerd.NS / cid).exists()
