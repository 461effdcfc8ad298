"""What the container sees (OCI runtime spec 1.2 config.md / config-linux.md), checked from inside
with the probe payload, and hooks / stdio plumbing checked from outside."""
import json
import os
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import (VSRV_BIN, IS_RUNC, runc_deviation, CAPS, cap_mask, parse_caps, pid_alive, probe_args, require_namespace, require_oci,
                      run_cmd, wait_for)


def probe_out(bundle, *args, overrides=None, rc=0, **kw):
    b = bundle(probe_args(*args), overrides, **kw)
    r = b.run()
    if rc is not None:
        assert r.rc == rc, r
    return r


def sh_out(bundle, script, overrides=None, rc=0):
    b = bundle(["/bin/sh", "-c", script], overrides)
    r = b.run()
    if rc is not None:
        assert r.rc == rc, r
    return r


def mountinfo(text):
    """[(mountpoint, fstype, mount_opts, super_opts, optional_fields)]"""
    res = []
    for l in text.splitlines():
        if " - " not in l:
            continue
        pre, post = l.split(" - ", 1)
        f, p = pre.split(), post.split()
        res.append((f[4], p[0], f[5], p[2] if len(p) > 2 else "", f[6:]))
    return res


def find_mount(text, mp):
    ms = [m for m in mountinfo(text) if m[0] == mp]
    return ms[-1] if ms else None


# ---- process ------------------------------------------------------------------------------------

def test_hostname(bundle):
    assert probe_out(bundle, "hostname", overrides={"hostname": "isolated-host"}).out.strip() == "isolated-host"


def test_domainname(bundle):
    runc_deviation("runc 1.1 ignores config.domainname (added in runc 1.2)")
    r = probe_out(bundle, "cat", "/proc/sys/kernel/domainname", overrides={"domainname": "example.test"})
    assert r.out.strip() == "example.test"


def test_user_and_additional_gids(bundle):
    r = probe_out(bundle, "id", overrides={"process": {"user": {"uid": 1000, "gid": 1000, "additionalGids": [50]}}})
    m = re.search(r"uid=(\d+) gid=(\d+) groups=([\d,]*)", r.out)
    assert m and m.group(1) == "1000" and m.group(2) == "1000", r.out
    groups = {int(g) for g in m.group(3).split(",") if g}
    assert 50 in groups and groups <= {50, 1000}, r.out


def test_root_user_has_no_stray_groups(bundle):
    r = probe_out(bundle, "id", overrides={"process": {"user": {"uid": 0, "gid": 0}}})
    m = re.search(r"groups=([\d,]*)", r.out)
    assert {int(g) for g in m.group(1).split(",") if g} <= {0}, r.out


def test_umask(bundle):
    assert probe_out(bundle, "umask", overrides={"process": {"user": {"uid": 0, "gid": 0, "umask": 0o077}}}).out.strip() == "0077"


def test_cwd(bundle):
    assert probe_out(bundle, "cwd", overrides={"process": {"cwd": "/etc"}}).out.strip() == "/etc"


def test_env(bundle):
    r = probe_out(bundle, "env", overrides={"process": {"env": ["PATH=/bin", "A=1", "B=two words"]}})
    lines = r.out.splitlines()
    assert "A=1" in lines and "B=two words" in lines and "PATH=/bin" in lines


def test_pid_namespace(bundle):
    assert probe_out(bundle, "pid").out.strip() == "1"


def test_oom_score_adj(bundle):
    r = probe_out(bundle, "cat", "/proc/self/oom_score_adj", overrides={"process": {"oomScoreAdj": 500}})
    assert r.out.strip() == "500"


def test_rlimits(bundle):
    r = probe_out(bundle, "rlimit", "NOFILE",
                  overrides={"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}]}})
    assert r.out.split() == ["256", "512"]


def test_no_new_privileges(bundle):
    r = probe_out(bundle, "seccomp", overrides={"process": {"noNewPrivileges": True}})
    assert "NoNewPrivs:\t1" in r.out
    r = probe_out(bundle, "seccomp", overrides={"process": {"noNewPrivileges": False}})
    assert "NoNewPrivs:\t0" in r.out


# ---- capabilities -------------------------------------------------------------------------------

def _check_caps(out, capsdef):
    got = parse_caps(out)
    assert got["CapBnd"] == cap_mask(capsdef.get("bounding")), out
    assert got["CapPrm"] == cap_mask(capsdef.get("permitted")), out
    assert got["CapEff"] == cap_mask(capsdef.get("effective")), out
    assert got["CapInh"] == cap_mask(capsdef.get("inheritable")), out
    # The kernel only keeps ambient caps that are both permitted and inheritable.
    amb = cap_mask(capsdef.get("ambient")) & cap_mask(capsdef.get("inheritable")) & cap_mask(capsdef.get("permitted"))
    assert got["CapAmb"] == amb, out


def test_default_spec_capabilities_exact(bundle):
    b = bundle(probe_args("caps"))
    r = b.run()
    assert r.rc == 0, r
    _check_caps(r.out, b.config["process"].get("capabilities", {}))
    assert parse_caps(r.out)["CapInh"] == 0


def test_custom_capabilities(bundle):
    caps = {k: ["CAP_NET_ADMIN", "CAP_KILL", "CAP_SETPCAP"] for k in ("bounding", "effective", "permitted")}
    caps.update(inheritable=["CAP_KILL"], ambient=["CAP_KILL"])
    r = probe_out(bundle, "caps", overrides={"process": {"capabilities": caps}})
    _check_caps(r.out, caps)


def test_non_root_user_capabilities(bundle):
    # A non-root process keeps permitted/effective caps across execve only via ambient caps.
    caps = {k: ["CAP_KILL"] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    r = probe_out(bundle, "caps", overrides={"process": {"capabilities": caps, "user": {"uid": 1000, "gid": 1000}}})
    _check_caps(r.out, caps)


# ---- seccomp ------------------------------------------------------------------------------------

def _all_syscalls():
    names = []
    for l in Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read_text().splitlines():
        m = re.match(r"#define __NR_(\w+) (\d+)", l)
        if m and int(m.group(2)) <= 440:
            names.append(m.group(1))
    return names


def test_seccomp_errno_rules(bundle):
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                         {"names": ["keyctl"], "action": "SCMP_ACT_ERRNO"}]}
    r = sh_out(bundle, "/probe syscall getcwd; /probe syscall keyctl; /probe syscall uname; /probe seccomp",
               {"linux": {"seccomp": prof}})
    lines = r.out.splitlines()
    assert lines[0] == "EACCES", r.out      # errnoRet honoured
    assert lines[1] == "EPERM", r.out       # default errno for SCMP_ACT_ERRNO
    assert lines[2] == "ok", r.out
    assert "Seccomp:\t2" in r.out


def test_seccomp_default_errno_ret(bundle, features):
    if not features.get("linux", {}).get("seccomp", {}).get("enabled", True):
        pytest.skip("runtime features: seccomp not enabled")
    require_oci(features, "1.0.2", "defaultErrnoRet")
    allowed = [n for n in _all_syscalls() if n != "getcwd"]
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 95,
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}
    r = probe_out(bundle, "syscall", "getcwd", overrides={"linux": {"seccomp": prof}})
    assert r.out.strip() == "EOPNOTSUPP", r


def test_seccomp_arg_filter(bundle):
    # personality(0xffffffff) (query) allowed, everything else with arg0 != 0xffffffff denied
    prof = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{"index": 0, "value": 0x04000000, "op": "SCMP_CMP_EQ"}]}]}  # CLONE_NEWUTS
    r = probe_out(bundle, "syscall", "unshare", overrides={"linux": {"seccomp": prof},
                  "process": {"capabilities": {"bounding": ["CAP_SYS_ADMIN"], "effective": ["CAP_SYS_ADMIN"],
                                               "permitted": ["CAP_SYS_ADMIN"]}}})
    assert r.out.strip() == "EPERM", r


# ---- namespaces ---------------------------------------------------------------------------------

def test_new_namespaces_differ_from_host(bundle):
    r = sh_out(bundle, "for n in pid net ipc uts mnt; do /probe readlink /proc/self/ns/$n; done")
    inside = r.out.split()
    for n, v in zip(["pid", "net", "ipc", "uts", "mnt"], inside):
        assert v != os.readlink(f"/proc/self/ns/{n}"), f"{n} namespace shared with host"


def test_fresh_netns_made_ahead_is_each_containers_own(bundle):
    # create makes a new network namespace on another CPU while it makes the cgroups, and the
    # init joins it (runtime/netns_prefetch.h): each container still gets its own, exec lands in
    # the same one, and nothing of it reaches the container's fds.
    a, b = bundle(probe_args("sleep", 60)), bundle(probe_args("sleep", 60))
    a.run_detached()
    b.run_detached()
    na = os.readlink(f"/proc/{a.state()['pid']}/ns/net")
    nb = os.readlink(f"/proc/{b.state()['pid']}/ns/net")
    assert na != nb and os.readlink("/proc/self/ns/net") not in (na, nb)
    r = a.exec(probe_args("readlink", "/proc/self/ns/net"))
    assert r.rc == 0 and r.out.strip() == na, r
    r = a.exec(probe_args("ls", "/proc/1/fd"))
    assert r.rc == 0 and sorted(r.out.split()) == ["0", "1", "2"], r


def test_join_netns_by_path(bundle):
    holder = subprocess.Popen(["unshare", "-n", "sleep", "60"])
    try:
        target = f"/proc/{holder.pid}/ns/net"
        want = wait_for(lambda: (os.readlink(target) != os.readlink("/proc/self/ns/net")) and os.readlink(target),
                        5, what="unshare -n")
        b = bundle(probe_args("readlink", "/proc/self/ns/net"))
        b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "network"]
        b.config["linux"]["namespaces"].append({"type": "network", "path": target})
        b.save()
        r = b.run()
        assert r.rc == 0, r
        assert r.out.strip() == want
    finally:
        holder.kill()
        holder.wait()


def test_user_namespace_mappings(bundle, features):
    require_namespace(features, "user")
    b = bundle(["/bin/sh", "-c", "/probe cat /proc/self/uid_map; /probe cat /proc/self/gid_map; /probe id"])
    for dirpath, dirs, files in os.walk(b.rootfs):
        for n in dirs + files + [""]:
            os.lchown(os.path.join(dirpath, n), 100000, 100000)
    # container root (host uid 100000) must be able to reach the bundle through pytest's 0700 dirs
    p = b.path
    while str(p).startswith("/tmp/") and p != Path("/tmp"):
        os.chmod(p, os.stat(p).st_mode | 0o011)
        p = p.parent
    b.config["linux"]["namespaces"].append({"type": "user"})
    b.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.save()
    r = b.run()
    assert r.rc == 0, r
    maps = [l.split() for l in r.out.splitlines() if l.strip() and l.split()[0].isdigit()]
    assert maps[0] == ["0", "100000", "65536"] and maps[1] == ["0", "100000", "65536"], r.out
    assert "uid=0 gid=0" in r.out


def test_time_namespace_offsets(bundle, features):
    require_namespace(features, "time")
    if "time" not in features.get("linux", {}).get("namespaces", []):
        pytest.skip("runtime features.linux.namespaces does not list 'time'")
    b = bundle(["/bin/sh", "-c", "/probe cat /proc/self/timens_offsets; /probe clock"])
    b.config["linux"]["namespaces"].append({"type": "time"})
    b.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 31536000, "nanosecs": 0},
                                        "boottime": {"secs": 63072000, "nanosecs": 0}}
    b.save()
    r = b.run()
    assert r.rc == 0, r
    assert re.search(r"monotonic\s+31536000\s+0", r.out), r.out
    assert re.search(r"boottime\s+63072000\s+0", r.out), r.out
    mono = int(re.search(r"monotonic=(\d+)", r.out).group(1))
    assert mono >= 31536000 + time.monotonic() - 5


def test_personality_linux32(bundle, features):
    require_oci(features, "1.2.0", "linux.personality")
    r = probe_out(bundle, "personality", overrides={"linux": {"personality": {"domain": "LINUX32"}}})
    assert "personality=0x8 " in r.out and "machine=i686" in r.out, r.out


# ---- mounts and filesystem ----------------------------------------------------------------------

def test_spec_mounts_present(bundle):
    b = bundle(probe_args("mounts"))
    r = b.run()
    assert r.rc == 0, r
    for m in b.config.get("mounts", []):
        got = find_mount(r.out, m["destination"])
        assert got, f"{m['destination']} not mounted:\n{r.out}"
        opts = m.get("options", [])
        if m.get("type") not in ("bind", "cgroup", None) and "bind" not in opts and "rbind" not in opts:
            assert got[1] == m["type"], (m, got)
        if "ro" in opts and m.get("type") != "cgroup":  # v1: /sys/fs/cgroup is a tmpfs of ro cgroup mounts
            assert "ro" in got[2].split(","), (m, got)


@pytest.mark.skipif(IS_RUNC, reason="vsrv's own build of the tree (VSRV_CGROUP_TREE_DETACHED)")
@pytest.mark.parametrize("detached", ["1", "0"])
def test_v1_cgroup_tree_is_read_only_and_the_containers_own(bundle, detached):
    # On a v1 or hybrid host the container's /sys/fs/cgroup is a read-only tmpfs with one
    # read-only (nosuid, nodev, noexec) bind of the container's own directory per hierarchy. vsrv
    # builds it detached and attaches it whole where the kernel can (Linux 6.15+), else mount by
    # mount (VSRV_CGROUP_TREE_DETACHED=0): the same table, the same files, either way.
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        pytest.skip("pure cgroup v2: the cgroup mount is one bind of the container's directory")
    b = bundle(["/bin/sh", "-c", "/probe mounts; echo ==; /probe cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                "/probe write /sys/fs/cgroup/new x; /probe write /sys/fs/cgroup/pids/pids.max 5"],
               {"linux": {"resources": {"memory": {"limit": 64 << 20}}}})
    r = b.run(env=dict(os.environ, VSRV_CGROUP_TREE_DETACHED=detached))
    mounts, _, rest = r.out.partition("==")
    tmpfs = find_mount(mounts, "/sys/fs/cgroup")
    assert tmpfs and tmpfs[1] == "tmpfs", mounts
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(tmpfs[2].split(",")), tmpfs
    below = [m for m in mountinfo(mounts) if m[0].startswith("/sys/fs/cgroup/")]
    names = {m[0].rsplit("/", 1)[1] for m in below}
    assert {"memory", "pids", "cpu", "devices", "freezer"} <= names, below
    for m in below:
        assert m[1] == "cgroup" and {"ro", "nosuid", "nodev", "noexec"} <= set(m[2].split(",")), m
    assert str(64 << 20) in rest.split(), r.out
    assert rest.count("ok") == 0 and "Read-only file system" in r.err, r


def test_default_proc_sys_dev(bundle):
    r = probe_out(bundle, "mounts")
    assert find_mount(r.out, "/proc")[1] == "proc"
    sysm = find_mount(r.out, "/sys")
    assert sysm[1] == "sysfs" and "ro" in sysm[2].split(",")
    assert find_mount(r.out, "/dev/pts")[1] == "devpts"
    assert find_mount(r.out, "/dev/mqueue")[1] == "mqueue"
    assert find_mount(r.out, "/dev/shm")[1] == "tmpfs"


def test_tmpfs_size_mode_and_bind_ro(bundle, tmp_path):
    src = tmp_path / "share"
    src.mkdir()
    (src / "hello").write_text("from host\n")
    b = bundle(["/bin/sh", "-c", "/probe mounts; /probe stat /mnt/t; /probe cat /mnt/ro/hello; "
                "/probe write /mnt/ro/new x; /probe write /mnt/t/f y"])
    b.add_mount("/mnt/t", "tmpfs", "tmpfs", ["size=1m", "mode=0700", "nosuid"])
    b.add_mount("/mnt/ro", "bind", str(src), ["bind", "ro"])
    r = b.run()
    t = find_mount(r.out, "/mnt/t")
    assert t[1] == "tmpfs" and "size=1024k" in t[3] and "nosuid" in t[2], t
    assert "type=dir mode=0700" in r.out
    assert "from host" in r.out
    ro = find_mount(r.out, "/mnt/ro")
    assert "ro" in ro[2].split(",")
    assert "probe: /mnt/ro/new: EROFS" in r.err
    assert r.out.rstrip().endswith("ok")  # tmpfs writable
    assert not (src / "new").exists()


@pytest.mark.parametrize("extra", [[], ["nosuid", "nodev", "noexec", "noatime"], ["sync"]],
                         ids=["ro", "ro-nosuid-nodev-noexec-noatime", "ro-sync-remount-path"])
def test_bind_with_flags_has_them_from_the_start(bundle, tmp_path, extra):
    # Binds with flags are made detached and moved in with them set (open_tree, mount_setattr,
    # move_mount); a flag mount_setattr has no word for ("sync") takes bind + remount instead.
    src = tmp_path / "share"
    src.mkdir()
    b = bundle(["/bin/sh", "-c", "/probe mounts; /probe write /mnt/ro/new x"])
    b.add_mount("/mnt/ro", "bind", str(src), ["rbind", "ro"] + extra)
    r = b.run()
    m = find_mount(r.out, "/mnt/ro")
    flags = m[2].split(",")
    assert "ro" in flags, m
    for f in extra:
        if f != "sync":
            assert f in flags, (f, m)
    assert "probe: /mnt/ro/new: EROFS" in r.err
    assert not (src / "new").exists()


def test_readonly_rootfs(bundle):
    r = probe_out(bundle, "write", "/x", "y", overrides={"root": {"readonly": True}}, rc=1)
    assert "EROFS" in r.err


def test_writable_rootfs(bundle):
    b = bundle(probe_args("write", "/x", "y"), {"root": {"readonly": False}})
    r = b.run()
    assert r.rc == 0, r
    assert (b.rootfs / "x").read_text() == "y"


DEVS = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}


def test_dev_contents(bundle):
    script = "; ".join(f"/probe stat /dev/{d}" for d in list(DEVS) + ["ptmx", "pts", "shm"]) + \
             "; for l in fd stdin stdout stderr; do /probe readlink /dev/$l; done"
    r = sh_out(bundle, script)
    lines = r.out.splitlines()
    for i, (d, (ma, mi)) in enumerate(DEVS.items()):
        assert f"type=chr mode=0666" in lines[i] and f"rdev={ma}:{mi} " in lines[i], (d, lines[i])
    assert "type=lnk" in lines[6] or "rdev=5:2" in lines[6], lines[6]
    assert "type=dir" in lines[7] and "type=dir" in lines[8]
    assert lines[9:13] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2"], lines


@pytest.mark.parametrize("mode,uid,gid,image_dev", [
    (0o620, 0, 0, False),      # our /dev tmpfs: mknod alone gives mode and owner (umask 0 meanwhile)
    (0o646, 1000, 1001, False),  # another owner: chowned (others may write: root has no DAC override)
    (0o2660, 0, 5, False),     # a set-id bit (which chown would clear): chmodded after
    (0o606, 7, 0, True),       # the image's own /dev (no tmpfs), with a file already at the path
])
def test_config_device(bundle, mode, uid, gid, image_dev):
    # vsrv makes each node with as few syscalls as give the exact mode and owner asked for
    # (runtime/child/mounts.cpp): whatever it skips, the node must come out as configured.
    dev = {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": mode, "uid": uid, "gid": gid}
    # (On the image's /dev the node is only looked at: whether it opens depends on how the root is
    # mounted, which is not what this test is about.)
    b = bundle(["/bin/sh", "-c", "/probe stat /dev/mynull" + ("; echo ok" if image_dev else "; /probe write /dev/mynull x")])
    b.linux.setdefault("devices", []).append(dev)
    b.linux.setdefault("resources", {}).setdefault("devices", []).append(
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
    if image_dev:
        b.config["mounts"] = [m for m in b.config["mounts"] if m["destination"] not in ("/dev", "/dev/pts", "/dev/shm", "/dev/mqueue")]
        (b.rootfs / "dev").mkdir(exist_ok=True)
        (b.rootfs / "dev" / "mynull").write_text("an image's file, to be replaced\n")
    b.save()
    r = b.run()
    assert r.rc == 0, r
    assert f"type=chr mode={mode:04o} uid={uid} gid={gid} rdev=1:3" in r.out, r.out
    assert r.out.rstrip().endswith("ok")


def test_device_not_allowed_is_refused(bundle):
    # The container's root has CAP_MKNOD, but a device its rules do not allow can be neither made
    # ("m") nor opened: by the v1 devices controller, and on cgroup2 by the eBPF filter (loaded on
    # another CPU while create makes the cgroup: runtime/prefetch.h).
    b = bundle(["/bin/sh", "-c", "mknod /dev/vsrvmem c 1 1 && /probe cat /dev/vsrvmem; "
                "mknod /dev/vsrvdisk b 8 0 && /probe cat /dev/vsrvdisk; /probe cat /dev/null; echo END"])
    r = b.run()
    assert "END" in r.out, r
    for d in ("vsrvmem", "vsrvdisk"):
        assert f"mknod: /dev/{d}: Operation not permitted" in r.err or f"probe: /dev/{d}: EPERM" in r.err, r
    assert "probe: /dev/null" not in r.err, r


def test_masked_paths(bundle):
    b = bundle(["/bin/sh", "-c", "/probe cat /proc/kcore; echo END; /probe ls /sys/firmware; echo END2; /probe mounts"])
    masked = b.linux.setdefault("maskedPaths", [])
    for p in ("/proc/kcore", "/sys/firmware"):
        if p not in masked:
            masked.append(p)
    b.save()
    r = b.run()
    assert r.out.startswith("END\n"), r.out        # /proc/kcore reads empty (or not at all)
    assert "END\nEND2\n" in r.out, r.out             # masked dir is empty
    fw = find_mount(r.out.split("END2\n", 1)[1], "/sys/firmware")
    assert fw and fw[1] == "tmpfs" and "ro" in fw[2].split(","), fw


def test_readonly_paths(bundle):
    b = bundle(probe_args("write", "/proc/sys/kernel/hostname", "evil"))
    ro = b.linux.setdefault("readonlyPaths", [])
    if "/proc/sys" not in ro:
        ro.append("/proc/sys")
    b.save()
    r = b.run()
    assert r.rc != 0 and "EROFS" in r.err, r


def test_rootfs_propagation_shared(bundle):
    runc_deviation("runc#1755: rootfsPropagation=shared not applied (fixed in runc 1.2.x/1.3)")
    r = probe_out(bundle, "mounts", overrides={"linux": {"rootfsPropagation": "shared"}})
    root = find_mount(r.out, "/")
    assert any(f.startswith("shared:") for f in root[4]), root


def test_rootfs_propagation_private(bundle):
    r = probe_out(bundle, "mounts", overrides={"linux": {"rootfsPropagation": "private"}})
    root = find_mount(r.out, "/")
    assert not any(f.startswith(("shared:", "master:")) for f in root[4]), root


# ---- sysctl -------------------------------------------------------------------------------------

def test_sysctl_namespaced(bundle):
    r = sh_out(bundle, "/probe cat /proc/sys/net/ipv4/ip_forward; /probe cat /proc/sys/kernel/shmmni",
               {"linux": {"sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}}})
    assert r.out.split() == ["1", "1234"]


def test_sysctl_not_namespaced_refused(bundle):
    before = Path("/proc/sys/vm/swappiness").read_text()
    b = bundle(probe_args("exit", 0), {"linux": {"sysctl": {"vm.swappiness": "7"}}})
    r = b.run()
    assert r.rc != 0, r
    assert "vm.swappiness" in r.err, r
    assert Path("/proc/sys/vm/swappiness").read_text() == before
    assert b.leftovers() == []


def test_sysctl_net_needs_netns(bundle):
    b = bundle(probe_args("exit", 0), {"linux": {"sysctl": {"net.ipv4.ip_forward": "1"}}})
    b.config["linux"]["namespaces"] = [n for n in b.config["linux"]["namespaces"] if n["type"] != "network"]
    b.save()
    before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    r = b.run()
    assert r.rc != 0, r
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before


# ---- hooks --------------------------------------------------------------------------------------

HOOK_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


def _hook(cmd, timeout=None):
    h = {"path": "/bin/sh", "args": ["sh", "-c", cmd]}
    if timeout:
        h["timeout"] = timeout
    return h


def test_all_hooks(bundle, tmp_path):
    marks = tmp_path / "hooks"
    marks.mkdir()
    b = bundle(probe_args("sleep", 60))
    hooks = {k: [_hook(f"cat > {marks}/{k}.json")] for k in HOOK_KINDS}
    # startContainer's path resolves, and it runs, inside the container: write via a bind mount.
    hooks["startContainer"] = [_hook("cat > /hooks/startContainer.json")]
    b.config["hooks"] = hooks
    b.add_mount("/hooks", "bind", str(marks), ["rbind", "rw"])
    b.create()
    pid = b.state()["pid"]

    def states():
        return {p.stem: json.loads(p.read_text()) for p in marks.glob("*.json") if p.stat().st_size}
    s = states()
    after_create = {"prestart", "createRuntime", "createContainer"}
    if IS_RUNC:
        after_create.add("poststart")  # runc#4347: runc runs poststart during create
    assert set(s) == after_create, s
    b.start()
    s = wait_for(lambda: (lambda s: s if len(s) == 5 else None)(states()), 10, what="start hooks")
    assert set(s) == set(HOOK_KINDS) - {"poststop"}
    b.kill("KILL")
    b.wait_status("stopped")
    b.delete()
    s = states()
    assert "poststop" in s
    for k, st in s.items():
        assert st["id"] == b.id, (k, st)
        assert os.path.realpath(st["bundle"]) == os.path.realpath(b.path), (k, st)
    assert s["startContainer"]["status"] == "created"
    if not IS_RUNC:  # runc#4347
        assert s["poststart"]["status"] == "running"
    assert s["poststop"]["status"] == "stopped"
    for k in ("createRuntime", "createContainer"):
        assert s[k]["status"] == "creating", (k, s[k])
    # pid as seen by the host (startContainer runs inside the container: not checked)
    assert s["createRuntime"]["pid"] == s["prestart"]["pid"] == s["poststart"]["pid"] == pid


def test_run_starts_at_once_unless_a_start_container_hook_must_run_first(bundle, tmp_path):
    # `run` has no separate `start` to wait for: its init goes on to the program without an
    # exec.fifo. A startContainer hook keeps the wait, so the hook still runs before the program.
    marks = tmp_path / "marks"
    marks.mkdir()
    b = bundle(probe_args("cat", "/hooks/started"))
    b.add_mount("/hooks", "bind", str(marks), ["rbind", "rw"])
    r = b.run()
    assert r.rc != 0, r  # nothing made the mark
    b.config["hooks"] = {"startContainer": [_hook("echo started-by-hook > /hooks/started")]}
    b.save()
    r = b.run()
    assert r.rc == 0 and r.out.strip() == "started-by-hook", r


def test_hook_args_env(bundle, tmp_path):
    out = tmp_path / "hookenv"
    b = bundle(probe_args("exit", 0))
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", f'echo "$0 $1 $HOOKVAR" > {out}', "a0", "a1"],
                                            "env": ["HOOKVAR=v"]}]}
    b.save()
    assert b.run().rc == 0
    assert out.read_text().strip() == "a0 a1 v"


def test_failing_prestart_hook_fails_create(bundle):
    b = bundle(probe_args("sleep", 60), {"hooks": {"prestart": [{"path": "/bin/false"}]}})
    r = b.create(check=False)
    assert r.rc != 0, r
    assert b.cmd("state", b.id).rc != 0
    assert b.leftovers() == []


def test_failing_create_runtime_hook(bundle):
    b = bundle(probe_args("sleep", 60), {"hooks": {"createRuntime": [_hook("exit 3")]}})
    r = b.create(check=False)
    assert r.rc != 0, r
    assert b.leftovers() == []


def test_hook_timeout(bundle, tmp_path):
    pidf = tmp_path / "hook.pid"
    b = bundle(probe_args("sleep", 60), {"hooks": {"createRuntime": [_hook(f"echo $$ > {pidf}; exec sleep 60", timeout=1)]}})
    t = time.monotonic()
    r = b.create(check=False)
    assert r.rc != 0, r
    assert time.monotonic() - t < 20
    pid = int(pidf.read_text())
    wait_for(lambda: not pid_alive(pid), 5, what="hook killed after timeout")
    assert b.leftovers() == []


def test_poststop_runs_on_delete_force(bundle, tmp_path):
    mark = tmp_path / "poststop"
    b = bundle(probe_args("sleep", 60), {"hooks": {"poststop": [_hook(f"cat > {mark}")]}})
    b.run_detached()
    assert not mark.exists()
    b.delete("--force")
    assert json.loads(mark.read_text())["id"] == b.id


# ---- stdio: terminal, preserved fds, socket activation, sd_notify --------------------------------

class ConsoleSocket:
    """AF_UNIX stream server that receives the pty master over SCM_RIGHTS (runc --console-socket)."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.fds, self.err = [], None
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        try:
            self.sock.settimeout(30)
            c, _ = self.sock.accept()
            with c:
                _, fds, _, _ = socket.recv_fds(c, 4096, 4)
                self.fds = fds
        except Exception as e:  # reported by the test
            self.err = e

    def master(self, timeout=20):
        self.t.join(timeout)
        assert self.fds, f"no pty master received ({self.err})"
        return self.fds[0]

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)


def read_pty(fd, until, timeout=15):
    data = b""
    end = time.monotonic() + timeout
    os.set_blocking(fd, False)
    while until not in data and time.monotonic() < end:
        try:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
        except BlockingIOError:
            time.sleep(0.05)
        except OSError:  # EIO: slave closed
            break
    return data.decode(errors="replace")


def test_terminal_console_socket(bundle, tmp_path):
    b = bundle(["/bin/sh", "-c", "/probe readlink /proc/self/fd/0; /probe readlink /proc/self/fd/1; /probe stat /dev/console; echo DONE; /probe sleep 60"],
               {"process": {"terminal": True}})
    cs = ConsoleSocket(tmp_path / "console.sock")
    try:
        b.create("--console-socket", cs.path)
        fd = cs.master()
        assert os.readlink(f"/proc/self/fd/{fd}") in ("/dev/ptmx", "/dev/pts/ptmx")
        b.start()
        out = read_pty(fd, b"DONE")
        assert "DONE" in out, out
        lines = [l.strip() for l in out.splitlines()]
        assert lines[0].startswith("/dev/pts/") and lines[1] == lines[0], out
        assert "type=chr" in out  # /dev/console is the pty
    finally:
        cs.close()


def test_preserve_fds(bundle, tmp_path):
    f = tmp_path / "preserved-file"
    f.write_text("x")
    b = bundle(probe_args("fds"))
    r = run_cmd(["/bin/sh", "-c", f'exec 3<"$1"; exec "$2" --root "$3" run --preserve-fds 1 --bundle "$4" "$5"',
                 "sh", f, VSRV_BIN, b.root, b.path, b.id], timeout=60)
    assert r.rc == 0, r
    fds = dict(l.split(" -> ", 1) for l in r.out.splitlines())
    assert fds.get("3", "").endswith("preserved-file"), r.out
    assert set(fds) == {"0", "1", "2", "3"}, r.out


def test_listen_fds(bundle, tmp_path):
    f = tmp_path / "listen-file"
    f.write_text("x")
    b = bundle(["/bin/sh", "-c", "/probe env; /probe fds"])
    r = run_cmd(["/bin/sh", "-c", f'exec 3<"$1"; LISTEN_FDS=1 LISTEN_PID=$$ exec "$2" --root "$3" run --bundle "$4" "$5"',
                 "sh", f, VSRV_BIN, b.root, b.path, b.id], timeout=60)
    assert r.rc == 0, r
    assert "LISTEN_FDS=1" in r.out.splitlines(), r.out
    assert re.search(r"^3 -> .*listen-file$", r.out, re.M), r.out


def test_notify_socket(bundle, tmp_path):
    path = str(tmp_path / "notify.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(30)
    try:
        b = bundle(["/bin/sh", "-c", "/probe notify; /probe sleep 60"])
        env = dict(os.environ, NOTIFY_SOCKET=path)
        p = subprocess.Popen([VSRV_BIN, "--root", str(b.root), "run", "--detach", "--bundle", str(b.path), b.id],
                             env=env, stdin=subprocess.DEVNULL, stdout=open(b.out_path, "ab"), stderr=open(b.err_path, "ab"))
        b.procs.append(p)
        data = srv.recv(4096)
        assert b"READY=1" in data, data
        assert p.wait(timeout=30) == 0, b.logs()
        # probe prints "sent" after sendmsg, and its stdout reaches the file when it exits.
        wait_for(lambda: "sent" in b.out(), 10, what="probe notify output")
    finally:
        srv.close()
