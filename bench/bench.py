#!/usr/bin/env python3
"""vsrv benchmarks against runc and crun (python3 stdlib only; run as root through bench/run.sh).

The outer process (no --inner) builds a tiny static rootfs from /bin/busybox, opens a handle on
the host's mount namespace and re-executes itself with --inner inside ONE private mount namespace
where /sys/fs/cgroup/unified is unmounted (crun refuses the hybrid layout):

    unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified; mount -t tmpfs ... \
        /sys/fs/cgroup/unified; exec bench.py --inner ...'

(the tmpfs keeps crun's stray cgroup.procs files off the host's /sys/fs/cgroup tmpfs).
Everything is measured by the inner process, interleaved (A B C, B C A, C A B, ...: rotated each
round), so all runtimes see the same cgroups and the same machine noise. The "vsrv on the real hybrid layout" row is
interleaved too: the inner process setns()es back into the host mount namespace (outside the
timed region) just before spawning that vsrv, and returns afterwards.

Timing: posix_spawn + wait4 around each runtime command (stdout to /dev/null, stderr to a log),
perf_counter_ns. The harness is a child subreaper (as conmon and containerd-shim are), so a
detached container's init is re-parented to it and its exit is waited for without polling a
runtime's `state`.

Rows (ids are stable; tests/integration/test_bench.py checks them):
  1   run /bin/true, sequential                                   ms
  1h  run /bin/true, vsrv on the host's hybrid cgroups             ms (vsrv column only)
  1vN, 4vN  rows 1 and 4 for each --vsrv-variant (another binary and/or environment)
  1x  row 1 back to back through hyperfine, in rounds (each runtime after its own run)   ms
  2   create + start + delete, three commands (sum; the wait for the exit is not counted)   ms
  3   100 containers (`run` /bin/true), 8 in flight: wall time     s
  4   exec /bin/true into a running (sleep) container              ms
  5a  peak RSS of the runtime processes during `run` (GNU time %M)                 KiB
  5b  memory charged to the container's cgroup once its process runs (v1 memory.max_usage_in_bytes)  KiB
  5c  smallest linux.resources.memory.limit under which `run` /bin/true succeeds (bisection)  KiB
  6   vsrv --network bridge vs none (only when `vsrv network ls` works; in a private netns)
  6p  what a bridged network adds: vsrv's own (row 6's paired deltas) against podman's (CNI/netavark)
      `podman run --rm` default network minus `--network none`, with --runtime runc / crun / vsrv;
      podman runs in a named netns of the bench's (/run/netns/vsrvbench-PID) with a private store  ms
  7   checkpoint / restore (only when `criu check` works)
"""
import argparse
import ctypes
import json
import os
import platform
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CG = "/sys/fs/cgroup"
CG_PREFIX = "vsrvbench"          # every container's cgroupsPath is /vsrvbench/<id>
RUNTIMES = ("vsrv", "runc", "crun")
HYBRID = "vsrv-hybrid"           # pseudo-runtime: vsrv spawned in the host mount namespace
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
PR_SET_CHILD_SUBREAPER = 36
APPLETS = ("sh true false sleep cat echo ls").split()

ROW_TITLES = {
    "1": "run /bin/true, sequential [ms]",
    "1h": "run /bin/true, vsrv on host hybrid cgroups [ms]",
    "1x": "run /bin/true, hyperfine -N, back to back [ms]",
    "2": "create+start+delete, 3 commands [ms]",
    "3": "{n} x run /bin/true, 8 in flight, wall [s]",
    "4": "exec /bin/true into sleep container [ms]",
    "5a": "peak RSS of runtime processes (run) [KiB]",
    "5b": "memory charged to container cgroup [KiB]",
    "5c": "smallest memory limit that starts [KiB]",
    "6": "network: vsrv run, bridge (vs none) [ms]",
    "6p": "network cost, bridge - none: vsrv own vs podman+RT [ms]",
    "7": "checkpoint + restore [ms]",
}
ROW_ORDER = ["1", "1h", "1x", "2", "3", "4", "5a", "5b", "5c", "6", "6p", "7"]

libc = ctypes.CDLL(None, use_errno=True)


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------
# Process plumbing


class Reaper:
    """wait4(-1) in one place: statuses of pids reaped while waiting for another are kept."""

    def __init__(self):
        self.done = {}   # pid -> (status, rusage, t_ns)

    def reap_any(self, block):
        try:
            pid, status, ru = os.wait4(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        self.done[pid] = (status, ru, time.perf_counter_ns())
        return pid

    def wait(self, pid, timeout=60.0):
        """Waits for our child (or adopted orphan) pid; kills it (by pid) after timeout."""
        if pid in self.done:
            return self.done.pop(pid)
        try:
            pfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pfd = None
        try:
            end = time.monotonic() + timeout
            while pid not in self.done:
                if pfd is not None:
                    left = end - time.monotonic()
                    if left <= 0:
                        log(f"pid {pid} ran past {timeout}s: SIGKILL")
                        try:
                            signal.pidfd_send_signal(pfd, signal.SIGKILL)
                        except OSError:
                            pass
                        end = time.monotonic() + 10
                        continue
                    r, _, _ = select.select([pfd], [], [], left)
                    if not r:
                        continue
                if self.reap_any(block=True) is None and pid not in self.done:
                    raise RuntimeError(f"pid {pid} is not a child of the harness")
            return self.done.pop(pid)
        finally:
            if pfd is not None:
                os.close(pfd)

    def drain(self):
        while self.reap_any(block=False) is not None:
            pass
        # adopted container inits nobody asked about
        self.done = {p: v for p, v in self.done.items() if time.perf_counter_ns() - v[2] < 60e9}


REAPER = Reaper()


class Spawner:
    def __init__(self, errlog, host_ns_fd=None, private_ns_fd=None):
        self.errlog = errlog
        self.host_ns_fd = host_ns_fd
        self.private_ns_fd = private_ns_fd

    def spawn(self, argv, in_host_ns=False, env=None):
        fa = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, self.errlog, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        ]
        if in_host_ns:
            setns(self.host_ns_fd)
        try:
            return os.posix_spawn(argv[0], argv, env or os.environ, file_actions=fa)
        finally:
            if in_host_ns:
                setns(self.private_ns_fd)

    def timed(self, argv, in_host_ns=False, timeout=60.0, env=None):
        """Returns (seconds, exit code or -signal, ru_maxrss KiB)."""
        if in_host_ns:
            setns(self.host_ns_fd)
        fa = [
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, self.errlog, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        ]
        try:
            t0 = time.perf_counter_ns()
            pid = os.posix_spawn(argv[0], argv, env or os.environ, file_actions=fa)
        finally:
            if in_host_ns:
                setns(self.private_ns_fd)
        status, ru, t1 = REAPER.wait(pid, timeout)
        return (t1 - t0) / 1e9, os.waitstatus_to_exitcode(status), ru.ru_maxrss


def setns(fd):
    if libc.setns(fd, CLONE_NEWNS) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns(mnt): {os.strerror(e)}")


def host_net_state():
    """The host netns's links (names), nft ruleset and /run/netns entries: row 6p compares them."""
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines()
    nft = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout.splitlines() \
        if shutil.which("nft") else []
    try:
        netns = sorted(n for n in os.listdir("/run/netns") if n.startswith(("vsrvbench-", "cni-")))  # ours only
    except OSError:
        netns = []
    return {"links": sorted(l.split(":")[1].strip().split("@")[0] for l in links if ":" in l),
            "nft": nft, "netns": netns}


def pids_with(needle):
    """pids whose command line contains needle (to find the harness's own podman helpers)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    if needle.encode() in f.read():
                        out.append(int(d))
            except OSError:
                pass
    return out


def quiet(argv, timeout=60):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=timeout).returncode


# ----------------------------------------------------------------------------------------------
# Rootfs, bundles, cgroups


def build_rootfs(path):
    busybox = shutil.which("busybox") or "/bin/busybox"
    out = subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout if shutil.which("file") else ""
    if "dynamically linked" in out:
        raise SystemExit(f"{busybox} is dynamically linked; install busybox-static")
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc", "run"):
        os.makedirs(os.path.join(path, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(path, "bin", "busybox"))
    for a in APPLETS:
        dst = os.path.join(path, "bin", a)
        if not os.path.lexists(dst):
            os.symlink("busybox", dst)
    with open(os.path.join(path, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/:/bin/sh\n")
    with open(os.path.join(path, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")


class Runtime:
    def __init__(self, name, binary, root, base_spec, in_host_ns=False, env=None):
        self.name, self.binary, self.root = name, binary, root
        self.base_spec = base_spec
        self.in_host_ns = in_host_ns
        self.env = env   # None: the harness's environment

    def cmd(self, *args):
        return [self.binary, "--root", self.root] + [str(a) for a in args]


def runtime_spec(binary, workdir):
    d = tempfile.mkdtemp(dir=workdir, prefix="spec-")
    subprocess.run([binary, "spec"], cwd=d, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(d, "config.json")) as f:
        spec = json.load(f)
    shutil.rmtree(d)
    return spec


class Bundles:
    """One bundle dir per container (the cgroupsPath names the container); rootfs shared."""

    def __init__(self, workdir, rootfs):
        self.dir = os.path.join(workdir, "bundles")
        self.rootfs = rootfs
        os.makedirs(self.dir, exist_ok=True)

    def make(self, rt, cid, args=("/bin/true",), memory_limit=None):
        spec = json.loads(json.dumps(rt.base_spec))
        spec["process"]["terminal"] = False
        spec["process"]["args"] = list(args)
        spec["root"] = {"path": self.rootfs, "readonly": True}
        lin = spec.setdefault("linux", {})
        lin["cgroupsPath"] = f"/{CG_PREFIX}/{cid}"
        if memory_limit is not None:
            lin.setdefault("resources", {})["memory"] = {"limit": int(memory_limit)}
        b = os.path.join(self.dir, cid)
        os.makedirs(b, exist_ok=True)
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(spec, f)
        return b

    def remove(self, cid):
        shutil.rmtree(os.path.join(self.dir, cid), ignore_errors=True)


def cgroup_mounts():
    """(controller dir) for every cgroup hierarchy mounted under /sys/fs/cgroup in this mnt ns."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            fstype, mnt = parts[sep + 1], parts[4]
            if fstype in ("cgroup", "cgroup2") and mnt.startswith(CG):
                out.append(mnt)
    return out


def remove_cgroups(cid=None):
    """rmdir /sys/fs/cgroup/*/vsrvbench[/cid] bottom-up in every hierarchy (never process_api)."""
    for mnt in cgroup_mounts():
        top = os.path.join(mnt, CG_PREFIX)
        base = os.path.join(top, cid) if cid else top
        if "process_api" in base or not os.path.isdir(base):
            continue
        for dirpath, dirnames, _ in sorted(os.walk(base), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass
        if cid:
            try:
                os.rmdir(top)   # the prefix too, once empty
            except OSError:
                pass


def cgroup_dirs():
    """Every cgroup directory in this mount namespace (never below process_api)."""
    dirs = set()
    for mnt in cgroup_mounts():
        for dirpath, dirnames, _ in os.walk(mnt):
            dirnames[:] = [d for d in dirnames if d != "process_api"]
            dirs.add(dirpath)
    return dirs


def remove_new_cgroups(before):
    """rmdir, deepest first, the cgroup dirs made since `before` (podman's libpod_parent/conmon:
    podman never removes them itself)."""
    for d in sorted(cgroup_dirs() - before, key=lambda d: -d.count("/")):
        try:
            os.rmdir(d)
        except OSError:
            pass


def has_memory_controller():
    """A v1 memory hierarchy, or memory among the cgroup2 root's controllers (not in v2-sim)."""
    for mnt in cgroup_mounts():
        if os.path.exists(os.path.join(mnt, "memory.max_usage_in_bytes")):
            return True
        try:
            with open(os.path.join(mnt, "cgroup.controllers")) as f:
                if "memory" in f.read().split():
                    return True
        except OSError:
            pass
    return False


def memory_cgroup_dir(cid):
    for mnt in cgroup_mounts():
        if os.path.exists(os.path.join(mnt, "memory.max_usage_in_bytes")):
            return os.path.join(mnt, CG_PREFIX, cid)
    for mnt in cgroup_mounts():   # pure v2
        if os.path.exists(os.path.join(mnt, "cgroup.controllers")):
            return os.path.join(mnt, CG_PREFIX, cid)
    return None


def read_int(path):
    with open(path) as f:
        return int(f.read().split()[0])


# ----------------------------------------------------------------------------------------------
# Statistics and rows


def rotated(seq, i):
    """Round i's order: A B C, then B C A, then C A B, ... Still interleaved, and every runtime
    follows every other equally often, so none always pays for the asynchronous teardown (netns,
    cgroup, mount namespace cleanup in kworkers) of one particular predecessor."""
    seq = list(seq)
    k = i % len(seq) if seq else 0
    return seq[k:] + seq[:k]


def summary(samples):
    if not samples:
        return None
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


class Bench:
    def __init__(self, args, runtimes, hybrid, sp, bundles, variants=()):
        self.a = args
        self.rts = runtimes            # list of Runtime in interleave order
        self.hybrid = hybrid           # Runtime or None
        self.variants = list(variants)  # extra vsrv builds/environments, interleaved in row 1
        self.sp = sp
        self.b = bundles
        self.rows = {}                 # row id -> {"title", "cells": {rt: summary|str}, "note"}
        self.failures = {}             # rt -> count of failed commands
        self.net_deltas = []           # row 6: per round, vsrv bridge minus none [ms] (row 6p's vsrv column)
        self.seq = 0

    def cid(self, rt, tag):
        self.seq += 1
        return f"{rt.name}-{tag}-{os.getpid()}-{self.seq}"

    def fail(self, rt, what):
        self.failures[rt.name] = self.failures.get(rt.name, 0) + 1
        if self.failures[rt.name] <= 5:
            log(f"{rt.name}: {what} failed (see {self.sp.errlog})")

    def cleanup(self, rt, cid):
        if rt.in_host_ns:
            setns(self.sp.host_ns_fd)
        try:
            quiet(rt.cmd("delete", "--force", cid), timeout=30)
            remove_cgroups(cid)
        finally:
            if rt.in_host_ns:
                setns(self.sp.private_ns_fd)
        self.b.remove(cid)
        REAPER.drain()

    def set_row(self, rid, cells, note="", title=None):
        self.rows[rid] = {"title": title or ROW_TITLES[rid], "cells": cells, "note": note}

    # -- row 1 / 1h / 5a ------------------------------------------------------------------------
    def row_run(self):
        order = self.rts + ([self.hybrid] if self.hybrid else []) + self.variants
        t = {rt.name: [] for rt in order}
        for i in range(self.a.warmup + self.a.runs):
            for rt in rotated(order, i):
                cid = self.cid(rt, "run")
                bundle = self.b.make(rt, cid)
                dt, rc, _ = self.sp.timed(rt.cmd("run", "-b", bundle, cid), in_host_ns=rt.in_host_ns, env=rt.env)
                if rc != 0:
                    self.fail(rt, f"run (rc {rc})")
                    self.cleanup(rt, cid)
                    continue
                if i >= self.a.warmup:
                    t[rt.name].append(dt * 1e3)
                self.cleanup(rt, cid)
        self.set_row("1", {r.name: summary(t[r.name]) for r in self.rts})
        if self.hybrid:
            self.set_row("1h", {"vsrv": summary(t[self.hybrid.name])},
                         note="vsrv column: vsrv outside the private namespace (cgroup v1 + unified); ratios vs crun/runc of row 1")
        else:
            self.set_row("1h", "n/a (no /sys/fs/cgroup/unified on this machine)")
        for v in self.variants:
            self.set_row(v.name, {"vsrv": summary(t[v.name])}, title=f"run /bin/true, vsrv variant {v.label} [ms]",
                         note=f"vsrv column: {v.desc}; ratios vs crun/runc of row 1")

    # -- row 5a: peak RSS -------------------------------------------------------------------------------
    def row_rss(self):
        """GNU time's %M: ru_maxrss of its child, the runtime, and of what the runtime reaped (the
        largest single process). Not wait4() on our own children: a child spawned by this Python
        process inherits Python's RSS high-water mark through exec."""
        gtime = shutil.which("time") or "/usr/bin/time"   # GNU time: a program, not the shell keyword
        if not os.access(gtime, os.X_OK):
            self.set_row("5a", "n/a (GNU time not installed: apt-get install time)")
            return
        res = {rt.name: [] for rt in self.rts}
        for i in range(self.a.rss_samples):
            for rt in rotated(self.rts, i):
                cid = self.cid(rt, "rss")
                bundle = self.b.make(rt, cid)
                out = os.path.join(self.b.dir, cid, "maxrss")
                _, rc, _ = self.sp.timed([gtime, "-f", "%M", "-o", out] + rt.cmd("run", "-b", bundle, cid))
                try:
                    with open(out) as f:
                        kib = int(f.read().split()[-1])
                except (OSError, ValueError, IndexError):
                    kib = None
                if rc != 0 or kib is None:
                    self.fail(rt, f"run under GNU time (rc {rc})")
                else:
                    res[rt.name].append(kib)
                self.cleanup(rt, cid)
        self.set_row("5a", {r.name: summary(res[r.name]) for r in self.rts},
                     note="GNU time %M of `run /bin/true`: max RSS of the largest runtime process (runtime binary until exec)")

    # -- row 1x: hyperfine ------------------------------------------------------------------------
    def row_hyperfine(self):
        hf = shutil.which("hyperfine")
        if not hf:
            self.set_row("1x", "n/a (hyperfine not installed)")
            return
        cells = {}
        cmds, cids = {}, []
        for rt in self.rts:
            cid = f"{rt.name}-hf-{os.getpid()}"
            bundle = self.b.make(rt, cid)
            cids.append((rt, cid))
            cmds[rt.name] = " ".join(rt.cmd("run", "-b", bundle, cid))
        # As many runs as row 1: with a third of them, crun's back-to-back median moved by 20%
        # between full runs of one day (docs/performance.md), and the ratio with it. In rounds:
        # each round runs every runtime back to back (its own warm-up first, so each measured run
        # follows one of its own), the order turning from round to round, so that a disturbance
        # of the machine lasting a fraction of a second (seen here: a 50-run stretch 20% slower)
        # falls on all runtimes alike instead of on whichever block it met.
        runs = max(3, self.a.runs)
        rounds = 5 if runs >= 50 else 1
        per_round = -(-runs // rounds)
        times = {rt.name: [] for rt in self.rts}
        failed = None
        for k in range(rounds):
            order = self.rts[k % len(self.rts):] + self.rts[:k % len(self.rts)]
            out = os.path.join(self.a.workdir, f"hyperfine-{k}.json")
            p = subprocess.run([hf, "-N", "--style", "none", "--warmup", str(max(1, self.a.warmup)), "--runs",
                                str(per_round), "--export-json", out] + [cmds[rt.name] for rt in order],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, timeout=600)
            if p.returncode != 0:
                failed = p.stderr.strip().splitlines()[-1:]
                break
            with open(out) as f:
                for rt, r in zip(order, json.load(f)["results"]):
                    times[rt.name] += [x * 1e3 for x in r["times"]]
        for rt, cid in cids:
            self.cleanup(rt, cid)
        if failed is not None:
            self.set_row("1x", f"n/a (hyperfine failed: {failed})")
            return
        for rt in self.rts:
            cells[rt.name] = summary(times[rt.name])
        runs = per_round * rounds
        self.set_row("1x", cells, note=(f"hyperfine {runs} runs per runtime, back to back: {rounds} rounds of "
                                        f"{per_round} per runtime, the runtimes' order turning each round"))

    # -- row 2 ------------------------------------------------------------------------------------
    def row_lifecycle(self):
        tot = {rt.name: [] for rt in self.rts}
        parts = {rt.name: {"create": [], "start": [], "delete": []} for rt in self.rts}
        for i in range(self.a.warmup + self.a.runs):
            for rt in rotated(self.rts, i):
                cid = self.cid(rt, "csd")
                bundle = self.b.make(rt, cid)
                pidfile = os.path.join(self.b.dir, cid, "init.pid")
                dc, rc, _ = self.sp.timed(rt.cmd("create", "-b", bundle, "--pid-file", pidfile, cid))
                if rc != 0:
                    self.fail(rt, f"create (rc {rc})")
                    self.cleanup(rt, cid)
                    continue
                try:
                    with open(pidfile) as f:
                        init = int(f.read().strip())
                except (OSError, ValueError):
                    self.fail(rt, "create: no pid file")
                    self.cleanup(rt, cid)
                    continue
                ds, rc, _ = self.sp.timed(rt.cmd("start", cid))
                if rc != 0:
                    self.fail(rt, f"start (rc {rc})")
                    self.cleanup(rt, cid)
                    continue
                try:
                    REAPER.wait(init, timeout=30)   # we are the subreaper: the init is ours now
                except (RuntimeError, ChildProcessError):
                    # not re-parented to us (should not happen): fall back to /proc polling
                    end = time.monotonic() + 30
                    while os.path.exists(f"/proc/{init}") and time.monotonic() < end:
                        time.sleep(0.001)
                dd, rc, _ = self.sp.timed(rt.cmd("delete", cid))
                if rc != 0:
                    self.fail(rt, f"delete (rc {rc})")
                    self.cleanup(rt, cid)
                    continue
                if i >= self.a.warmup:
                    tot[rt.name].append((dc + ds + dd) * 1e3)
                    parts[rt.name]["create"].append(dc * 1e3)
                    parts[rt.name]["start"].append(ds * 1e3)
                    parts[rt.name]["delete"].append(dd * 1e3)
                self.cleanup(rt, cid)
        note = "; ".join(
            f"{n}: " + " ".join(f"{k} {statistics.median(v):.1f}" for k, v in parts[n].items() if v)
            for n in parts if parts[n]["create"])
        self.set_row("2", {r.name: summary(tot[r.name]) for r in self.rts},
                     note="medians ms: " + note + " (harness is subreaper and waits for the init's exit, untimed)")

    # -- row 3 ------------------------------------------------------------------------------------
    def row_throughput(self):
        n, inflight = self.a.throughput_n, 8
        res = {rt.name: [] for rt in self.rts}
        for rnd in range(self.a.throughput_rounds):
            for rt in rotated(self.rts, rnd):
                cids = [self.cid(rt, "tp") for _ in range(n)]
                bundles = [self.b.make(rt, c) for c in cids]
                running, nxt, ok = {}, 0, 0
                t0 = time.perf_counter_ns()
                while nxt < n or running:
                    while nxt < n and len(running) < inflight:
                        pid = self.sp.spawn(rt.cmd("run", "-b", bundles[nxt], cids[nxt]))
                        running[pid] = nxt
                        nxt += 1
                    pid = REAPER.reap_any(block=True)
                    if pid in running:
                        del running[pid]
                        status = REAPER.done.pop(pid)[0]
                        if os.waitstatus_to_exitcode(status) == 0:
                            ok += 1
                t1 = time.perf_counter_ns()
                if ok != n:
                    self.fail(rt, f"throughput: {n - ok} of {n} runs failed")
                else:
                    res[rt.name].append((t1 - t0) / 1e9)
                for c in cids:
                    self.cleanup(rt, c)
        self.set_row("3", {r.name: summary(res[r.name]) for r in self.rts},
                     title=ROW_TITLES["3"].format(n=n),
                     note=f"{self.a.throughput_rounds} round(s) of {n}; containers/s = {n}/wall")

    # -- sleep containers (rows 4, 5b, 7) -------------------------------------------------------------
    def start_sleeper(self, rt, tag, memory_limit=None):
        cid = self.cid(rt, tag)
        bundle = self.b.make(rt, cid, args=("/bin/sleep", "100000"), memory_limit=memory_limit)
        _, rc, _ = self.sp.timed(rt.cmd("create", "-b", bundle, cid), env=rt.env)
        if rc == 0:
            _, rc, _ = self.sp.timed(rt.cmd("start", cid), env=rt.env)
        if rc != 0:
            self.fail(rt, f"{tag}: create/start of a sleep container (rc {rc})")
            self.cleanup(rt, cid)
            return None
        return cid

    def row_exec(self):
        order = self.rts + self.variants
        res = {rt.name: [] for rt in order}
        cids = {rt.name: self.start_sleeper(rt, "exec") for rt in order}
        try:
            for i in range(self.a.warmup + self.a.runs):
                for rt in rotated(order, i):
                    cid = cids[rt.name]
                    if cid is None:
                        continue
                    dt, rc, _ = self.sp.timed(rt.cmd("exec", cid, "/bin/true"), env=rt.env)
                    if rc != 0:
                        self.fail(rt, f"exec (rc {rc})")
                    elif i >= self.a.warmup:
                        res[rt.name].append(dt * 1e3)
        finally:
            for rt in order:
                if cids[rt.name]:
                    self.cleanup(rt, cids[rt.name])
        self.set_row("4", {r.name: summary(res[r.name]) for r in self.rts})
        for v in self.variants:
            rid = "4" + v.name[1:]   # 1v2 -> 4v2
            self.set_row(rid, {"vsrv": summary(res[v.name])}, title=f"exec /bin/true, vsrv variant {v.label} [ms]",
                         note=f"vsrv column: {v.desc}; ratios vs crun/runc of row 4")

    def row_charged(self):
        if not has_memory_controller():
            self.set_row("5b", "n/a (no memory controller in the bench namespace's cgroups)")
            return
        res = {rt.name: [] for rt in self.rts}
        used = set()
        for i in range(self.a.mem_samples):
            for rt in rotated(self.rts, i):
                cid = self.start_sleeper(rt, "mem")
                if cid is None:
                    continue
                d = memory_cgroup_dir(cid)
                try:
                    f = "memory.max_usage_in_bytes" if os.path.exists(os.path.join(d, "memory.max_usage_in_bytes")) \
                        else "memory.peak"
                    res[rt.name].append(read_int(os.path.join(d, f)) / 1024)
                    used.add(f)
                except (OSError, TypeError, ValueError) as e:
                    self.fail(rt, f"reading the container's memory cgroup {d}: {e}")
                self.cleanup(rt, cid)
        self.set_row("5b", {r.name: summary(res[r.name]) for r in self.rts},
                     note=f"{' / '.join(sorted(used)) or 'memory.max_usage_in_bytes or memory.peak'} of /vsrvbench/<id> "
                          "after `start` of a sleep container")

    def probe_limit(self, rt, limit):
        cid = self.cid(rt, "lim")
        bundle = self.b.make(rt, cid, memory_limit=limit)
        _, rc, _ = self.sp.timed(rt.cmd("run", "-b", bundle, cid), timeout=30)
        self.cleanup(rt, cid)
        return rc == 0

    def row_min_limit(self):
        if not has_memory_controller():
            self.set_row("5c", "n/a (no memory controller in the bench namespace's cgroups)")
            return
        hi0, res = self.a.limit_max, {}
        lo = {rt.name: 0 for rt in self.rts}          # known (assumed) to fail
        hi = {rt.name: hi0 for rt in self.rts}        # known to work
        for rt in self.rts:
            if not self.probe_limit(rt, hi0):
                hi[rt.name] = None
        step = self.a.limit_resolution
        while True:
            active = [rt for rt in self.rts if hi[rt.name] is not None and hi[rt.name] - lo[rt.name] > step]
            if not active:
                break
            for rt in active:   # one probe per runtime per round: interleaved
                mid = (lo[rt.name] + hi[rt.name]) // 2 // 4096 * 4096
                if mid <= lo[rt.name]:
                    mid = lo[rt.name] + 4096
                if self.probe_limit(rt, mid):
                    hi[rt.name] = mid
                else:
                    lo[rt.name] = mid
        for rt in self.rts:
            if hi[rt.name] is None:
                res[rt.name] = f"> {hi0 // 1024}"
            else:
                res[rt.name] = {"median": hi[rt.name] / 1024, "min": lo[rt.name] / 1024, "max": hi[rt.name] / 1024,
                                "n": 1}
        self.set_row("5c", res, note=f"bisection of linux.resources.memory.limit over (0, {hi0 // 1024}] KiB to "
                                     f"{step // 1024} KiB: median = smallest limit that worked, min = largest that failed")

    # -- row 6: network -------------------------------------------------------------------------------
    def row_network(self):
        """vsrv run --network bridge against --network none, interleaved. Runs in a network
        namespace of its own (made here, dropped afterwards) with VSRV_STATE_DIR in the work dir,
        so the bridge, veths, nftables table, leases and network files never touch the host's."""
        vs = next((r for r in self.rts if r.name == "vsrv"), None)
        env = dict(os.environ, VSRV_STATE_DIR=os.path.join(self.a.workdir, "netstate"))
        if vs is None or subprocess.run(vs.cmd("network", "ls"), env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            self.set_row("6", "n/a (networking not built)")
            return
        if not shutil.which("ip"):
            self.set_row("6", "n/a (ip not installed: apt-get install iproute2)")
            return
        host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        if libc.unshare(CLONE_NEWNET) != 0:
            os.close(host_net)
            self.set_row("6", f"n/a (unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())})")
            return
        try:
            quiet(["ip", "link", "set", "lo", "up"])
            res = {"none": [], "bridge": []}
            for i in range(self.a.warmup + max(3, self.a.runs // 2)):
                got = {}
                for mode in ("none", "bridge"):
                    cid = self.cid(vs, "net" + mode)
                    bundle = self.b.make(vs, cid)
                    dt, rc, _ = self.sp.timed(vs.cmd("run", "--network", mode, "-b", bundle, cid), env=env)
                    if rc != 0:
                        self.fail(vs, f"run --network {mode} (rc {rc})")
                    elif i >= self.a.warmup:
                        res[mode].append(dt * 1e3)
                        got[mode] = dt * 1e3
                if len(got) == 2:   # paired per round, for row 6p
                    self.net_deltas.append(got["bridge"] - got["none"])
                    subprocess.run(vs.cmd("delete", "--force", cid), env=env, stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    self.cleanup(vs, cid)
        finally:
            if libc.setns(host_net, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original network namespace")
            os.close(host_net)
        b, nn = summary(res["bridge"]), summary(res["none"])
        if not b or not nn:
            self.set_row("6", "n/a (vsrv run --network bridge/none failed)")
            return
        self.set_row("6", {"vsrv": b}, note=f"vsrv column: --network bridge; --network none median {nn['median']:.1f} ms, "
                                           f"so a bridged network costs {b['median'] - nn['median']:+.1f} ms "
                                           f"({b['median'] / nn['median']:.2f}x); in a private netns")

    # -- row 6p: podman's networking cost ------------------------------------------------------------
    PODMAN_IMAGE = "localhost/vsrvbench:latest"

    def row_podman_network(self):
        """What a bridged network adds to `podman run --rm IMAGE /bin/true` (podman's default network
        against --network none) with --runtime runc, crun and vsrv, interleaved and rotated, next to
        what it adds to vsrv's own `run` (row 6's paired deltas).

        Everything network-related happens in a named network namespace the bench makes
        (/run/netns/vsrvbench-PID, lo up): the harness setns()es into it for the row, as
        `nsenter --net=` would (not `ip netns exec`, which remounts /sys and hides the cgroups), so
        podman, its CNI plugins, the cni-podman0 bridge, veths and iptables rules live there and
        vanish with it. podman gets a private store (--root/--runroot/--tmpdir in the work dir,
        vfs), a private containers.conf, an empty --network-config-dir (its built-in default
        network) and a private /var/lib/cni (bind mount, only in the bench's mount namespace). The
        host's links, nft ruleset and /run/netns (vsrvbench-*, cni-*) are compared before and after."""
        podman = shutil.which("podman")
        if not podman:
            self.set_row("6p", "n/a (podman not installed)")
            return
        if not shutil.which("ip"):
            self.set_row("6p", "n/a (podman: no ip(8) to make the netns)")
            return
        host_before = host_net_state()
        cgroups_before = cgroup_dirs()
        pd = os.path.join(self.a.workdir, "podman")
        for d in ("tmp", "netconf", "cni"):
            os.makedirs(os.path.join(pd, d), exist_ok=True)
        conf = os.path.join(pd, "containers.conf")
        with open(conf, "w") as f:
            f.write("[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
                    "runtime_supports_json = [\"crun\", \"runc\", \"vsrv\"]\n")
        env = dict(os.environ, CONTAINERS_CONF=conf, TMPDIR=os.path.join(pd, "tmp"))
        base = [podman, "--root", os.path.join(pd, "storage"), "--runroot", os.path.join(pd, "runroot"),
                "--tmpdir", os.path.join(pd, "libpod"), "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs",
                "--events-backend", "file", "--network-config-dir", os.path.join(pd, "netconf")]
        run_opts = ["--rm", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                    "--cgroup-parent", f"/{CG_PREFIX}/podman"]
        nsname = f"vsrvbench-{os.getpid()}"
        if quiet(["ip", "netns", "add", nsname]) != 0:
            self.set_row("6p", f"n/a (podman: ip netns add {nsname} failed)")
            return
        cni_dir, cni_made, cni_mounted = "/var/lib/cni", False, False
        host_net = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        in_ns = False
        res = {}
        deltas = {}
        fails = {}
        backend = "?"
        problem = None
        try:
            quiet(["ip", "-n", nsname, "link", "set", "lo", "up"])
            if not os.path.isdir(cni_dir):
                os.makedirs(cni_dir)
                cni_made = True
            cni_mounted = quiet(["mount", "--bind", os.path.join(pd, "cni"), cni_dir]) == 0
            if not cni_mounted:
                raise RuntimeError(f"mount --bind over {cni_dir} failed")
            nsfd = os.open(f"/run/netns/{nsname}", os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(nsfd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns(/run/netns/{nsname})")
                in_ns = True
            finally:
                os.close(nsfd)
            tar = os.path.join(pd, "rootfs.tar")
            with tarfile.open(tar, "w") as t:
                for name in sorted(os.listdir(self.b.rootfs)):
                    t.add(os.path.join(self.b.rootfs, name), arcname=name)
            p = subprocess.run(base + ["import", tar, self.PODMAN_IMAGE], env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise RuntimeError(f"podman import failed: {(p.stderr.strip().splitlines() or ['?'])[-1]}")
            p = subprocess.run(base + ["info", "--format", "{{.Host.NetworkBackend}}"], env=env,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
            backend = p.stdout.strip() or "?"
            rts = [("runc", self.a.runc), ("crun", self.a.crun), ("vsrv", self.a.vsrv)]
            rts = [(n, b) for n, b in rts if b and os.access(b, os.X_OK)]
            res = {n: {"none": [], "bridge": []} for n, _ in rts}
            deltas = {n: [] for n, _ in rts}
            combos = [(n, b, m) for n, b in rts for m in ("none", "bridge")]
            warm = min(self.a.warmup, 2)
            for i in range(warm + max(2, self.a.runs // 5)):
                got = {}
                for n, b, mode in rotated(combos, i):
                    if fails.get(n, 0) > 2:    # a runtime podman cannot drive: stop paying for it
                        continue
                    net = ["--network", "none"] if mode == "none" else []
                    dt, rc, _ = self.sp.timed(base + ["--runtime", b, "run"] + run_opts + net +
                                              [self.PODMAN_IMAGE, "/bin/true"], env=env, timeout=120)
                    REAPER.drain()
                    if rc != 0:
                        fails[n] = fails.get(n, 0) + 1
                        log(f"podman --runtime {n} run ({mode}) failed (rc {rc}; see {self.sp.errlog})")
                    elif i >= warm:
                        res[n][mode].append(dt * 1e3)
                        got[(n, mode)] = dt * 1e3
                for n, _ in rts:
                    if (n, "none") in got and (n, "bridge") in got:
                        deltas[n].append(got[(n, "bridge")] - got[(n, "none")])
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            problem = str(e)
        finally:
            if in_ns:
                for args in (["rm", "--all", "--force", "--time", "0"], ["rmi", "--all", "--force"]):
                    try:
                        quiet(base + args, timeout=120)
                    except subprocess.TimeoutExpired:
                        pass
                if libc.setns(host_net, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns back to the original network namespace")
            os.close(host_net)
            quiet(["ip", "netns", "del", nsname])
            if cni_mounted:
                quiet(["umount", cni_dir])
            if cni_made:
                try:
                    os.rmdir(cni_dir)
                except OSError:
                    pass
            self.podman_leftovers(pd)
            remove_new_cgroups(cgroups_before)
        host_after = host_net_state()
        if problem:
            self.set_row("6p", f"n/a (podman: {problem})")
            return
        if host_after == host_before:
            host_note = "host links, nft ruleset and /run/netns unchanged"
        else:
            host_note = "HOST NETWORK STATE CHANGED during the row: " + "; ".join(
                f"{k}: {sorted(set(host_before[k]) ^ set(host_after[k]))[:6]}" for k in host_before
                if host_before[k] != host_after[k])
            log(host_note)
        cells = {}
        if self.net_deltas:
            cells["vsrv"] = summary(self.net_deltas)
        for n in ("runc", "crun"):
            if n in deltas:
                cells[n] = summary(deltas[n]) or "failed"
        if not any(isinstance(c, dict) for k, c in cells.items() if k != "vsrv"):
            self.set_row("6p", f"n/a (podman run failed with every runtime; see {self.sp.errlog})")
            return
        meds = []
        for n in res:
            nn, bb = summary(res[n]["none"]), summary(res[n]["bridge"])
            d = summary(deltas[n])
            if nn and bb and d:
                meds.append(f"podman+{n} none {nn['median']:.0f} / bridge {bb['median']:.0f} ms, "
                            f"delta {d['median']:+.0f} ms [{d['min']:.0f}..{d['max']:.0f}]")
            else:
                meds.append(f"podman+{n} failed ({fails.get(n, 0)} runs)")
        self.set_row("6p", cells, note=(
            f"bridge minus none, paired per round [ms]; vsrv column: vsrv's own --network bridge (row 6"
            f"{'' if self.net_deltas else ', not run'}), runc/crun columns: podman --runtime runc/crun on its default "
            f"network (backend {backend}); ratios: vsrv's network cost over podman's. " + "; ".join(meds) +
            f"; in netns /run/netns/{nsname}; {host_note}"))

    def podman_leftovers(self, pd):
        """conmon and `podman container cleanup` (re-parented to the harness, a subreaper) may still be
        finishing: reap them, then SIGKILL by pid any still running from this store after 15 s; unmount
        whatever podman left mounted under its dirs and remove the store."""
        end = time.monotonic() + 15
        while True:
            REAPER.drain()
            left = pids_with(pd)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.2)
        for pid in left:
            log(f"podman helper pid {pid} still running after 15 s: SIGKILL")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        REAPER.drain()
        with open("/proc/self/mountinfo") as f:
            mps = [l.split()[4] for l in f if l.split()[4].startswith(pd + "/")]
        for mp in sorted(mps, key=len, reverse=True):
            quiet(["umount", "-l", mp])
        quiet(["rm", "-rf", "--one-file-system", pd], timeout=120)

    # -- row 7: checkpoint/restore ----------------------------------------------------------------------
    def row_checkpoint(self):
        if not shutil.which("criu") or quiet(["criu", "check"]) != 0:
            self.set_row("7", "n/a (no working CRIU >= 4)")
            return
        ver = subprocess.run(["criu", "--version"], capture_output=True, text=True).stdout
        try:
            major = int(ver.split("Version:")[1].split(".")[0])
        except (IndexError, ValueError):
            major = 0
        if major < 4:
            self.set_row("7", f"n/a (no working CRIU >= 4: {ver.strip().splitlines()[0] if ver else '?'})")
            return
        res = {rt.name: [] for rt in self.rts}
        for i in range(max(2, self.a.runs // 10)):
            for rt in rotated(self.rts, i):
                cid = self.start_sleeper(rt, "ckpt")
                if cid is None:
                    continue
                img = os.path.join(self.b.dir, cid, "img")
                os.makedirs(img, exist_ok=True)
                dc, rc, _ = self.sp.timed(rt.cmd("checkpoint", "--image-path", img, cid), timeout=120)
                if rc == 0:
                    dr, rc, _ = self.sp.timed(rt.cmd("restore", "-d", "--image-path", img, "-b",
                                                     os.path.join(self.b.dir, cid), cid), timeout=120)
                    if rc == 0:
                        res[rt.name].append((dc + dr) * 1e3)
                    else:
                        self.fail(rt, f"restore (rc {rc})")
                else:
                    self.fail(rt, f"checkpoint (rc {rc})")
                self.cleanup(rt, cid)
        self.set_row("7", {r.name: summary(res[r.name]) for r in self.rts},
                     note="checkpoint of a sleep container + restore -d, sum")


# ----------------------------------------------------------------------------------------------
# Table


def fmt(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def render(result):
    rows = result["rows"]
    names = list(RUNTIMES)
    hdr = ["row", "what"] + [f"{n} med [min-max]" for n in names] + ["vsrv/crun", "vsrv/runc"]
    lines = [hdr]
    order = list(ROW_ORDER)
    extra = [k for k in rows if k.startswith("1v")]
    order[order.index("1h") + 1:order.index("1h") + 1] = extra
    extra4 = [k for k in rows if k.startswith("4v")]
    order[order.index("4") + 1:order.index("4") + 1] = extra4
    for rid in order:
        r = rows.get(rid)
        if r is None:
            lines.append([rid, ROW_TITLES[rid].replace("{n}", "100"), "n/a (not run)"])
            continue
        if isinstance(r["cells"], str):
            lines.append([rid, r["title"], r["cells"]])
            continue
        cells = r["cells"]
        row = [rid, r["title"]]
        for n in names:
            c = cells.get(n)
            if c is None:
                row.append("-" if rid in ("1h", "6", "6p") or rid[1:2] == "v" else "failed")
            elif isinstance(c, str):
                row.append(c)
            else:
                row.append(f"{fmt(c['median'])} [{fmt(c['min'])}-{fmt(c['max'])}]")
        base = "4" if rid.startswith("4v") else "1"
        ref = rows[base]["cells"] if (rid == "1h" or rid[1:2] == "v") and isinstance(rows.get(base, {}).get("cells"), dict) \
            else cells
        v = cells.get("vsrv")
        for other in ("crun", "runc"):
            o = ref.get(other)
            if isinstance(v, dict) and isinstance(o, dict) and o["median"]:
                row.append(f"{v['median'] / o['median']:.2f}")
            else:
                row.append("-")
        lines.append(row)
    widths = [max(len(l[i]) for l in lines if i < len(l)) for i in range(len(hdr))]
    out = []
    for l in lines:
        if len(l) == 3 and l is not hdr:   # an n/a row spans the runtime columns
            out.append(f"{l[0]:<{widths[0]}}  {l[1]:<{widths[1]}}  {l[2]}")
        else:
            out.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(l)).rstrip())
    out.insert(1, "-" * len(out[0]))
    notes = [f"  {rid}: {rows[rid]['note']}" for rid in order if rid in rows and rows[rid].get("note")]
    m = result["machine"]
    head = (f"vsrv benchmark ({result['mode']} mode, {result['runs']} runs/row, interleaved) on "
            f"{m['nproc']} CPUs, kernel {m['kernel']}, host cgroups {m['cgroup_host']}, bench namespace "
            f"{m['cgroup_bench']}\nstate (--root) dirs: {result.get('state', '?')}\nruntimes: " + ", ".join(f"{k} {v}" for k, v in result["versions"].items()))
    fails = result.get("failures") or {}
    tail = "\nnotes:\n" + "\n".join(notes)
    if fails:
        tail += "\nfailed commands: " + ", ".join(f"{k} {v}" for k, v in fails.items()) + \
                f" (stderr in {result.get('errlog')})"
    return head + "\n\n" + "\n".join(out) + "\n" + tail


def cgroup_layout():
    ms = cgroup_mounts()
    v1 = [m for m in ms if os.path.exists(os.path.join(m, "tasks"))]
    v2 = [m for m in ms if os.path.exists(os.path.join(m, "cgroup.controllers"))]
    if v1 and v2:
        return f"hybrid (v1 controllers + cgroup2 at {v2[0]})"
    if v1:
        return "v1"
    return "v2" if v2 else "none"


def fstype(path):
    """Filesystem type of the mount holding path (longest matching mount point)."""
    path, best, typ = os.path.realpath(path), "", "?"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mnt = parts[4]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, typ = mnt, parts[parts.index("-") + 1]
    return typ


def version(binary):
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        return out.strip().splitlines()[0].replace("version ", "").strip() if out.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# ----------------------------------------------------------------------------------------------
# Entry points


def inner(a):
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed")
    private_fd = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    host_fd = a.host_ns_fd
    if host_fd is not None:
        os.set_inheritable(host_fd, False)
    errlog = os.path.join(a.workdir, "stderr.log")
    sp = Spawner(errlog, host_fd, private_fd)
    bins = {"vsrv": a.vsrv, "runc": a.runc, "crun": a.crun}
    rts = []
    for n in RUNTIMES:
        root = os.path.join(a.state_dir, n)
        os.makedirs(root, exist_ok=True)
        rts.append(Runtime(n, bins[n], root, runtime_spec(bins[n], a.workdir)))
    hybrid = None
    if host_fd is not None and a.host_hybrid:
        root = os.path.join(a.state_dir, HYBRID)
        os.makedirs(root, exist_ok=True)
        hybrid = Runtime(HYBRID, a.vsrv, root, rts[0].base_spec, in_host_ns=True)
    variants = []
    for i, v in enumerate(a.vsrv_variant or []):
        label, _, spec = v.partition("=")
        binary, env, desc = a.vsrv, dict(os.environ), []
        for item in filter(None, spec.split(",")):
            if "=" in item:
                k, _, val = item.partition("=")
                env[k] = val
                desc.append(item)
            else:
                binary = os.path.abspath(item)
                desc.append(binary)
        name = f"1v{i + 1}"
        root = os.path.join(a.state_dir, name)
        os.makedirs(root, exist_ok=True)
        rt = Runtime(name, binary, root, runtime_spec(binary, a.workdir), env=env)
        rt.label, rt.desc = label, " ".join(desc) or "as vsrv"
        variants.append(rt)
    bundles = Bundles(a.workdir, os.path.join(a.workdir, "rootfs"))
    b = Bench(a, rts, hybrid, sp, bundles, variants)
    steps = [("1 run", b.row_run), ("1x hyperfine", b.row_hyperfine), ("2 create/start/delete", b.row_lifecycle),
             ("3 throughput", b.row_throughput), ("4 exec", b.row_exec), ("5a peak RSS", b.row_rss), ("5b charged memory", b.row_charged),
             ("5c smallest limit", b.row_min_limit), ("6 network", b.row_network),
             ("6p podman network", b.row_podman_network), ("7 checkpoint", b.row_checkpoint)]
    only = set(a.only.split(",")) if a.only else None
    for name, fn in steps:
        if only and name.split()[0] not in only:
            continue
        t0 = time.monotonic()
        log(f"row {name} ...")
        try:
            fn()
        except Exception as e:   # a broken row must not lose the others
            log(f"row {name}: {type(e).__name__}: {e}")
            rid = name.split()[0]
            b.rows.setdefault(rid, {"title": ROW_TITLES[rid], "cells": f"error: {e}", "note": ""})
        log(f"row {name} took {time.monotonic() - t0:.1f}s")
        remove_cgroups()
    # 1h set by row_run; 5a too
    result = {"rows": b.rows, "failures": b.failures, "errlog": errlog, "cgroup_bench": cgroup_layout()}
    with open(os.path.join(a.workdir, "inner.json"), "w") as f:
        json.dump(result, f)


def installed_copies(a, workdir):
    """Every runtime runs from a copy in the work dir, as an install leaves it. vsrv's
    build/cli/vsrv, as the linker wrote it, ran 0.13-0.23 ms slower per `run` here than the same
    bytes copied with cp (interleaved, 300 runs each), with the same number of page faults (how
    the page cache holds a file written in pieces is the likely cause); dpkg wrote runc and crun
    whole.
    Copied alike, the three start alike. Where the work dir cannot hold programs (a noexec
    mount) the originals run. Returns ({name: path}, the --vsrv-variant specs rewritten)."""
    bins = {"vsrv": a.vsrv, "runc": a.runc, "crun": a.crun}
    variants = list(a.vsrv_variant or [])
    bindir = os.path.join(workdir, "bin")
    os.makedirs(bindir, exist_ok=True)
    if os.statvfs(bindir).f_flag & os.ST_NOEXEC:
        return bins, variants

    def copy(path, name):
        dst = os.path.join(bindir, name)
        shutil.copy2(path, dst)   # whole-file copy (copy_file_range or sendfile)
        return dst

    out = {n: copy(p, n) for n, p in bins.items()}
    for i, v in enumerate(variants):
        label, _, spec = v.partition("=")
        items = [item if "=" in item else copy(os.path.abspath(item), f"vsrv-variant{i + 1}")
                 for item in filter(None, spec.split(","))]
        variants[i] = f"{label}={','.join(items)}"
    return out, variants


def outer(a):
    if os.geteuid() != 0:
        raise SystemExit("bench.py needs root (containers, cgroups, mount namespaces)")
    for n in ("vsrv", "runc", "crun"):
        p = getattr(a, n)
        if not p or not os.access(p, os.X_OK):
            raise SystemExit(f"{n} binary not found ({p!r}); bench/run.sh installs runc and crun")
    t_start = time.monotonic()
    keep = a.workdir is not None
    workdir = a.workdir or tempfile.mkdtemp(prefix="vsrvbench.")
    os.makedirs(workdir, exist_ok=True)
    build_rootfs(os.path.join(workdir, "rootfs"))
    host_layout = cgroup_layout()
    unified = os.path.join(CG, "unified")
    host_hybrid = os.path.ismount(unified)
    state_dir = os.path.join(workdir, "state")
    if a.state_tmpfs:   # as on hosts where /run is a tmpfs; /dev/shm is one in both namespaces
        state_dir = tempfile.mkdtemp(dir="/dev/shm", prefix="vsrvbench-state.")
    run_bins, variants = installed_copies(a, workdir)
    host_fd = os.open("/proc/self/ns/mnt", os.O_RDONLY)
    os.set_inheritable(host_fd, True)
    me = os.path.abspath(__file__)
    fwd = ["--vsrv", run_bins["vsrv"], "--runc", run_bins["runc"], "--crun", run_bins["crun"], "--workdir", workdir, "--runs", str(a.runs),
           "--warmup", str(a.warmup), "--throughput-n", str(a.throughput_n),
           "--throughput-rounds", str(a.throughput_rounds), "--mem-samples", str(a.mem_samples),
           "--rss-samples", str(a.rss_samples),
           "--limit-max", str(a.limit_max), "--limit-resolution", str(a.limit_resolution),
           "--host-ns-fd", str(host_fd), "--state-dir", state_dir] + (["--host-hybrid"] if host_hybrid else []) + \
          (["--only", a.only] if a.only else []) + \
          [x for v in variants for x in ("--vsrv-variant", v)]
    # After the umount, /sys/fs/cgroup/unified is a plain directory of the host's /sys/fs/cgroup
    # tmpfs, and crun (which maps the "0::" line of /proc/self/cgroup there) creates
    # vsrvbench/<id>/cgroup.procs files in it that outlive the namespace, hidden under the host's
    # cgroup2 mount. A private empty tmpfs on that directory looks the same to every runtime (not
    # cgroup2: crun still sees the legacy layout) and vanishes with the namespace.
    script = ('if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified || exit 97; '
              'mount -t tmpfs -o size=4m,mode=755 vsrvbench /sys/fs/cgroup/unified || exit 98; fi; '
              'exec "$@"')
    if a.bench_cgroups == "v2-sim":
        # The host's cgroup2 (only the controllers v1 does not hold: no memory, cpu, pids, io)
        # bound over /sys/fs/cgroup: every runtime takes its cgroup v2 path (CLONE_INTO_CGROUP,
        # the eBPF device filter, cgroup.kill, v2 cleanup), as scripts/test-v2-sim.sh does for
        # the tests. A proxy for a real v2 host, which scripts/device-v2.sh measures.
        if not host_hybrid:
            raise SystemExit("--bench-cgroups v2-sim needs a hybrid host (cgroup2 at /sys/fs/cgroup/unified)")
        script = 'mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup || exit 97; exec "$@"'
    argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", sys.executable, me, "--inner"] + fwd
    try:
        rc = subprocess.run(argv, pass_fds=(host_fd,)).returncode
        if rc != 0:
            raise SystemExit(f"inner benchmark failed (rc {rc})")
        with open(os.path.join(workdir, "inner.json")) as f:
            inner_res = json.load(f)
    finally:
        os.close(host_fd)
        remove_cgroups()   # host namespace: also /sys/fs/cgroup/unified/vsrvbench
        if a.state_tmpfs:
            shutil.rmtree(state_dir, ignore_errors=True)
    result = {
        "mode": "quick" if a.quick else "full",
        "runs": a.runs,
        "state": f"{state_dir} ({fstype(state_dir if os.path.exists(state_dir) else '/dev/shm')})",
        "machine": {"nproc": os.cpu_count(), "kernel": platform.release(), "cgroup_host": host_layout,
                    "cgroup_bench": inner_res["cgroup_bench"]},
        "versions": {"vsrv": a.vsrv, "runc": version(a.runc), "crun": version(a.crun)},
        "rows": inner_res["rows"],
        "failures": inner_res["failures"],
        "errlog": inner_res["errlog"],
        "seconds": round(time.monotonic() - t_start, 1),
    }
    text = render(result)
    print(text)
    print(f"\n(total {result['seconds']} s)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    if not keep and not result["failures"]:
        shutil.rmtree(workdir, ignore_errors=True)
    elif result["failures"]:
        log(f"kept {workdir} for the stderr log")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few runs each: proves the harness works")
    ap.add_argument("--runs", type=int, help="measured runs per runtime for rows 1, 2, 4 (full: 100)")
    ap.add_argument("--warmup", type=int)
    ap.add_argument("--throughput-n", type=int)
    ap.add_argument("--throughput-rounds", type=int)
    ap.add_argument("--mem-samples", type=int)
    ap.add_argument("--rss-samples", type=int)
    ap.add_argument("--limit-max", type=int, default=64 << 20)
    ap.add_argument("--limit-resolution", type=int)
    ap.add_argument("--vsrv", default=os.environ.get("VSRV_BIN"))
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--crun", default=shutil.which("crun") or "/usr/bin/crun")
    ap.add_argument("--json", help="also write the results as JSON here")
    ap.add_argument("--vsrv-variant", action="append", metavar="LABEL=[PATH][,VAR=VAL...]",
                    help="also run rows 1 and 4 for another vsrv binary and/or environment, interleaved "
                         "(e.g. nocb=VSRV_NO_CLONED_BINARY=1, before=/tmp/old/vsrv); repeatable")
    ap.add_argument("--bench-cgroups", choices=("v1", "v2-sim"), default="v1",
                    help="the cgroups inside the bench namespace: v1 (the hybrid host's cgroup2 unmounted; "
                         "default) or v2-sim (the host's cgroup2 bound over /sys/fs/cgroup; no memory controller)")
    ap.add_argument("--only", help="comma-separated row ids to run (1,1x,2,3,4,5a,5b,5c,6,6p,7)")
    ap.add_argument("--state-tmpfs", action="store_true",
                    help="put every runtime's --root on a tmpfs (/dev/shm), as on hosts whose /run is a tmpfs "
                         "(default: the work dir under /tmp)")
    ap.add_argument("--state-dir", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--host-ns-fd", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--host-hybrid", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    q = a.quick
    defaults = {"runs": 3 if q else 100, "warmup": 1 if q else 5, "throughput_n": 16 if q else 100,
                "throughput_rounds": 1 if q else 3, "mem_samples": 1 if q else 5, "rss_samples": 2 if q else 20,
                "limit_resolution": (8 << 20) if q else (64 << 10)}
    for k, v in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    if not a.vsrv:
        for c in ("build-bench/cli/vsrv", "build/cli/vsrv"):
            if os.access(os.path.join(REPO, c), os.X_OK):
                a.vsrv = os.path.join(REPO, c)
                break
    if a.vsrv:
        a.vsrv = os.path.abspath(a.vsrv)
    if a.inner:
        inner(a)
    else:
        outer(a)


if __name__ == "__main__":
    main()
