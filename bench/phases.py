#!/usr/bin/env python3
"""bench/phases.py: where the time of one `vsrv run /bin/true` goes, step by step, on this host.

    sudo python3 bench/phases.py [--vsrv PATH]... [--runs N] [--busybox PATH]

Runs `vsrv --debug --log FILE run` N times (default 200) on the host's own cgroup layout and
reads the steps create and run log with nanosecond timestamps (log::step in runtime/sys/log.h):

    guard            the config is read and checked, the CVE-2019-5736 guard chosen
    cgroup made      the state dir and first state.json, the cgroup and its limits
    cloning          the child plan built (and the network namespace made ahead joined)
    init ready       the child set up the container and exec'd into the trampoline
    running          state.json says running (the init goes on meanwhile)
    init exited      the program ran and exited, its namespaces torn down (but the mounts)
    removed          the cgroup and state dir removed
    mount ns gone    the helper dropped the container's mount namespace

and prints the median, min and max of each step's duration, plus the time from the process's
exec to the first step (start-up and config) and the wall time of the whole command. Standard
library only; needs root, busybox (static) for the rootfs, and a vsrv binary.

With --vsrv given more than once, the binaries take turns run by run (the order reversed every
round) and each gets a column, the first being the base of a last column of differences of
medians: two builds compared step by step within one run, since runs of it one after the other
drift by more than most changes (bench/README.md). Give fresh copies of each build.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def parse_time(s):
    # 2026-11-30T00:32:40.731537922Z -> ns since the epoch (the date part only matters for rollover)
    date, clock = s.rstrip("Z").split("T")
    hms, frac = clock.split(".")
    h, m, sec = (int(x) for x in hms.split(":"))
    y, mo, d = (int(x) for x in date.split("-"))
    days = (time.mktime((y, mo, d, 0, 0, 0, 0, 0, 0)) - time.mktime((1970, 1, 1, 0, 0, 0, 0, 0, 0))) // 86400
    return int((days * 86400 + h * 3600 + m * 60 + sec) * 1e9 + int(frac.ljust(9, "0")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vsrv", action="append", help="a vsrv binary; repeat to alternate several")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--busybox", default=shutil.which("busybox") or "/bin/busybox")
    a = ap.parse_args()
    bins = [os.path.realpath(b) for b in (a.vsrv or [os.environ.get("VSRV_BIN", "build/cli/vsrv")])]
    vsrv = bins[0]
    work = tempfile.mkdtemp(prefix="vsrvphases.")
    try:
        rootfs = os.path.join(work, "bundle", "rootfs")
        for d in ("bin", "proc", "dev", "sys", "tmp"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy(a.busybox, os.path.join(rootfs, "bin", "busybox"))
        os.symlink("busybox", os.path.join(rootfs, "bin", "true"))
        bundle = os.path.join(work, "bundle")
        subprocess.run([vsrv, "spec"], cwd=bundle, check=True, stdout=subprocess.DEVNULL)
        cfg = json.load(open(os.path.join(bundle, "config.json")))
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = ["/bin/true"]
        cfg["linux"]["cgroupsPath"] = "/vsrvphases/c"
        json.dump(cfg, open(os.path.join(bundle, "config.json"), "w"))
        # The prefix exists, as on a host where engines run (and in bench.py, where runc and crun
        # leave /vsrvbench): vsrv makes and removes only the container's own directories. Its
        # cpuset gets the root's cpus and mems, as runc and crun seed the parents they make.
        for hier in v1_hierarchies():
            p = os.path.join(hier, "vsrvphases")
            os.makedirs(p, exist_ok=True)  # (the hierarchy's mount itself exists: v1_hierarchies)
            for f in ("cpuset.cpus", "cpuset.mems"):
                if os.path.exists(os.path.join(hier, f)):
                    with open(os.path.join(p, f), "w") as out:
                        out.write(open(os.path.join(hier, f)).read().strip())
        root, log = os.path.join(work, "state"), os.path.join(work, "run.log")
        steps = [{} for _ in bins]
        walls = [[] for _ in bins]
        for i in range(a.runs + 5):
            order = list(range(len(bins))) if i % 2 == 0 else list(reversed(range(len(bins))))
            for k in order:
                if os.path.exists(log):
                    os.unlink(log)
                t0 = time.monotonic_ns()
                r = subprocess.run([bins[k], "--root", root, "--debug", "--log", log, "run", "c"], cwd=bundle,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                wall = time.monotonic_ns() - t0
                if r.returncode != 0:
                    sys.exit(f"phases: vsrv run failed: {r.stderr.decode().strip()}")
                if i < 5:
                    continue  # warm-up
                walls[k].append(wall)
                prev = None
                for line in open(log):
                    if "debug: " not in line or "'c': " not in line:
                        continue
                    t = parse_time(line.split(" ", 1)[0])
                    name = line.split("'c': ", 1)[1].strip()
                    if prev:
                        steps[k].setdefault(f"{prev[1]} -> {name}", []).append(t - prev[0])
                    prev = (t, name)
        if len(bins) == 1:
            print(f"vsrv {vsrv}, {a.runs} runs, median [min-max] in ms")
            print(f"{'whole command (wall, from the harness)':58s} {fmt(walls[0])}")
            for k, v in steps[0].items():
                print(f"  {k:56s} {fmt(v)}")
            total = sum(statistics.median(v) for v in steps[0].values())
            print(f"{'sum of step medians (the rest: start-up, config, exit)':58s} {total / 1e6:.2f}")
        else:
            print(f"{a.runs} runs each, alternated; medians in ms; last column: the last binary minus the first")
            for n, b in enumerate(bins):
                print(f"  [{n}] {b}")
            head = "".join(f"{f'[{n}]':>9s}" for n in range(len(bins)))
            print(f"{'':58s}{head}{'diff':>9s}")
            def row(label, vals):
                meds = [statistics.median(v) / 1e6 if v else float("nan") for v in vals]
                print(f"{label:58s}" + "".join(f"{m:9.3f}" for m in meds) + f"{meds[-1] - meds[0]:+9.3f}")
            row("whole command (wall, from the harness)", walls)
            names = list(dict.fromkeys(k for st in steps for k in st))
            for k in names:
                row(f"  {k}", [st.get(k, []) for st in steps])
    finally:
        subprocess.run([vsrv, "--root", os.path.join(work, "state"), "delete", "--force", "c"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for base in [d for d in os.listdir("/sys/fs/cgroup")] + [""]:
            p = os.path.join("/sys/fs/cgroup", base, "vsrvphases")
            if os.path.isdir(p):
                try:
                    os.rmdir(p)
                except OSError:
                    pass
        shutil.rmtree(work, ignore_errors=True)


def v1_hierarchies():
    """Mount points of the cgroup v1 hierarchies (fstype "cgroup"), from our mount table."""
    out = []
    for line in open("/proc/self/mountinfo"):
        left, _, right = line.partition(" - ")
        f = left.split()
        # Only a hierarchy still reachable at its mount point: where something is mounted over
        # /sys/fs/cgroup (the simulated v2 layout binds cgroup2 there), the v1 mounts stay in the
        # table but their paths lead into that cgroup2, where makedirs would make cgroups.
        if right.split()[:1] == ["cgroup"] and f[3] == "/" and f[4].startswith("/sys/fs/cgroup/") and \
                os.path.exists(os.path.join(f[4], "tasks")):
            out.append(f[4])
    return out


def fmt(v):
    return f"{statistics.median(v) / 1e6:.3f} [{min(v) / 1e6:.3f}-{max(v) / 1e6:.3f}]"


if __name__ == "__main__":
    main()
