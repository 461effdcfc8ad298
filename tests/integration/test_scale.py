"""Many servers at once: N containers from one bundle, started, entered and removed concurrently
(16 at a time), each with memory and pids limits. Checks that every one runs in its own cgroup,
that `exec` into all of them at once works (exec probes on a busy node; the shared state lock of
exec's trampoline under contention), and that nothing is left behind.

N is 40 by default (CI, 2 CPUs); VSRV_SCALE_N raises it (scripts/device-v2.sh runs 400 on the
16-CPU cgroup v2 machine)."""
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import cgroup_dirs_named, probe_args, run_cmd, VSRV_BIN

N = int(os.environ.get("VSRV_SCALE_N", "40"))
MiB = 1 << 20


def test_many_containers_run_exec_and_leave_nothing(bundle):
    b = bundle(probe_args("sleep", 600), overrides={"linux": {"resources": {
        "memory": {"limit": 32 * MiB}, "pids": {"limit": 64}}}})
    ids = [f"{b.id}-{i}" for i in range(N)]
    base = [VSRV_BIN, "--root", str(b.root)]

    def run(cid):
        return run_cmd(base + ["run", "--detach", "--bundle", str(b.path), cid], timeout=120)

    def exec_pid(cid):
        return run_cmd(base + ["exec", cid] + probe_args("pid"), timeout=120)

    def delete(cid):
        return run_cmd(base + ["delete", "--force", cid], timeout=120)

    try:
        with ThreadPoolExecutor(max_workers=16) as ex:
            started = list(ex.map(run, ids))
        failed = [r for r in started if r.rc != 0]
        assert not failed, f"{len(failed)} of {N} failed to start: {failed[:3]}"
        listed = run_cmd(base + ["list", "--format", "json"], timeout=60)
        assert listed.rc == 0, listed
        status = {c["id"]: c["status"] for c in json.loads(listed.out or "[]")}
        assert all(status.get(cid) == "running" for cid in ids), {k: v for k, v in status.items() if v != "running"}
        pids = {json.loads(run_cmd(base + ["state", cid]).out)["pid"] for cid in ids}
        assert len(pids) == N  # N distinct inits

        # Every one entered at once, twice over: each answers from inside its own pid namespace.
        with ThreadPoolExecutor(max_workers=16) as ex:
            entered = list(ex.map(exec_pid, ids + ids))
        bad = [r for r in entered if r.rc != 0 or not r.out.strip().isdigit() or int(r.out.split()[0]) == 1]
        assert not bad, f"{len(bad)} of {2 * N} execs failed: {bad[:3]}"

        # Each has its own cgroup with its limits.
        for cid in ids[:: max(1, N // 10)]:
            dirs = cgroup_dirs_named(cid)
            assert dirs, f"no cgroup for {cid}"
    finally:
        with ThreadPoolExecutor(max_workers=16) as ex:
            removed = list(ex.map(delete, ids))
    assert all(r.rc == 0 for r in removed), [r for r in removed if r.rc != 0][:3]
    left_state = [cid for cid in ids if (b.root / cid).exists()]
    assert not left_state, left_state[:5]
    left_cg = [d for cid in ids for d in cgroup_dirs_named(cid)]
    assert not left_cg, left_cg[:5]


@pytest.mark.parametrize("beside", ["1", "0"])
def test_many_runs_at_once_share_the_spare_state_dir_and_the_cgroup_prefix(bundle, beside):
    # Foreground runs, 16 at a time: each makes its state dir (taking the spare when there is
    # one) and removes it (parking it as the spare when there is none), so creates and removals
    # race for <root>/.spare all along (runtime/state.cpp). They race for the default cgroup
    # prefix "/vsrv" too, which goes with its last container: a create may find it gone and make
    # it again, and on v1 must then seed its cpuset (an empty one refuses tasks: ENOSPC), with
    # the cgroup made beside the init (1) or before it (0). Every run works, each exactly once,
    # and what is left is at most one empty spare.
    b = bundle(probe_args("exit", "7"))
    ids = [f"{b.id}-{i}" for i in range(N)]
    base = [VSRV_BIN, "--root", str(b.root)]
    env = dict(os.environ, VSRV_CGROUP_BESIDE=beside)

    def run(cid):
        return run_cmd(base + ["run", "--bundle", str(b.path), cid], timeout=120, env=env)

    with ThreadPoolExecutor(max_workers=16) as ex:
        done = list(ex.map(run, ids))
    bad = [r for r in done if r.rc != 7]
    assert not bad, f"{len(bad)} of {N} runs failed: {bad[:3]}"
    left = sorted(p.name for p in b.root.iterdir())
    assert left in ([], [".spare"]), left
    if left:
        assert list((b.root / ".spare").iterdir()) == []
    left_cg = [d for cid in ids for d in cgroup_dirs_named(cid)]
    assert not left_cg, left_cg[:5]
