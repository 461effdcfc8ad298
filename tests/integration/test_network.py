"""Networking (issue 4): bridge, macvlan, IPAM, NAT, published ports, cleanup.

Machine rule: every test runs vsrv inside a network namespace it creates (its "host"), entered
with `nsenter --net` (not `ip netns exec`, which remounts /sys and hides the cgroup tree), with
VSRV_STATE_DIR pointing at a tmp dir. Nothing here touches the real host's links or rules.
"""
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import VSRV_BIN, run_cmd, wait_for

NET_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
CAPS_OVERRIDE = {"process": {"capabilities": {k: NET_CAPS for k in ("bounding", "effective", "permitted")}}}


class HostNs:
    """A throw-away network namespace that plays the host, plus the per-test network state dir."""

    def __init__(self, name, state_dir):
        self.name, self.state_dir = name, state_dir
        self.env = dict(os.environ, VSRV_STATE_DIR=str(state_dir))
        self.containers = []  # (root, id) to delete at teardown

    def sh(self, cmd, timeout=30, check=True):
        r = run_cmd(["nsenter", f"--net=/run/netns/{self.name}", "sh", "-c", cmd], timeout=timeout, env=self.env)
        if check:
            assert r.rc == 0, f"{cmd}: {r}"
        return r

    def vsrv(self, *args, root=None, timeout=60, env=None):
        argv = ["nsenter", f"--net=/run/netns/{self.name}", VSRV_BIN] + (["--root", str(root)] if root else [])
        return run_cmd(argv + [str(a) for a in args], timeout=timeout, env=env or self.env)

    def create(self, b, *net_args, cid=None, check=True, env=None):
        cid = cid or b.id
        r = self.vsrv("create", "--bundle", b.path, *net_args, cid, root=b.root, env=env)
        if r.rc == 0:
            self.containers.append((b.root, cid))
        if check:
            assert r.rc == 0, f"create failed: {r}"
        return r

    def run_server(self, b, *net_args):
        self.create(b, *net_args)
        r = self.vsrv("start", b.id, root=b.root)
        assert r.rc == 0, f"start failed: {r}"

    def exec(self, b, *argv, timeout=30, cid=None):
        return self.vsrv("exec", cid or b.id, *argv, root=b.root, timeout=timeout)

    def delete(self, root, cid, check=True):
        r = self.vsrv("delete", "--force", cid, root=root)
        if (root, cid) in self.containers:
            self.containers.remove((root, cid))
        if check:
            assert r.rc == 0, f"delete failed: {r}"
        return r

    def leases(self, network="vsrv"):
        r = self.vsrv("network", "inspect", network)
        assert r.rc == 0, f"inspect failed: {r}"
        return json.loads(r.out)["leases"]

    def veths(self):
        """Host-side container veths (vsrv names them vs<hash>)."""
        names = [l.split(": ")[1].split("@")[0] for l in self.sh("ip -o link").out.splitlines() if ": " in l]
        return [n for n in names if n.startswith("vs") and not n.startswith("vsrv")]

    def ip_of(self, b, cid=None):
        r = self.exec(b, "ip", "-4", "-o", "addr", "show", "eth0", cid=cid)
        assert r.rc == 0, f"ip addr: {r}"
        return r.out.split("inet ")[1].split("/")[0]


@pytest.fixture
def hostns(vsrv_bin, tmp_path, bundle):
    # Depends on `bundle` so it is torn down first: containers are deleted inside this netns with
    # this state dir before bundle's own `delete --force` and leftover checks run.
    if shutil.which("nsenter") is None or shutil.which("ip") is None or shutil.which("nft") is None:
        pytest.skip("needs nsenter, ip (iproute2) and nft")
    name = f"vt-{uuid.uuid4().hex[:8]}"
    r = run_cmd(["ip", "netns", "add", name])
    if r.rc != 0:
        pytest.skip(f"cannot create a network namespace: {r.err}")
    ns = HostNs(name, tmp_path / "netstate")
    try:
        ns.sh("ip link set lo up")
        yield ns
    finally:
        for root, cid in list(ns.containers):
            ns.vsrv("delete", "--force", cid, root=root)
        run_cmd(["ip", "netns", "del", name])


def server_bundle(bundle, args, **kw):
    return bundle(args=args, overrides=CAPS_OVERRIDE, **kw)


# ----------------------------------------------------------------------------------------------


def test_bridge_ping_and_tcp_echo(hostns, bundle):
    a = server_bundle(bundle, ["nc", "-ll", "-p", "7000", "-e", "cat"])
    b = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(a, "--network", "bridge")
    hostns.run_server(b, "--network", "bridge")
    ip_a, ip_b = hostns.ip_of(a), hostns.ip_of(b)
    assert ip_a != ip_b and ip_a.startswith("10.90.0.") and ip_b.startswith("10.90.0.")
    r = hostns.exec(b, "ping", "-c", "1", "-W", "3", ip_a)
    assert r.rc == 0, r
    r = hostns.exec(b, "sh", "-c", f"echo hello-vsrv | nc -w 3 {ip_a} 7000 & sleep 1; kill $! 2>/dev/null; true")
    assert "hello-vsrv" in r.out, r
    # /etc/hosts and resolv.conf are generated and bind-mounted, not written into the image.
    r = hostns.exec(b, "cat", "/etc/hosts")
    assert ip_b in r.out, r
    assert not (b.rootfs / "etc" / "hosts").exists() or ip_b not in (b.rootfs / "etc" / "hosts").read_text()
    # Default route via the bridge, and the host reaches the container.
    assert hostns.sh(f"busybox ping -c 1 -W 3 {ip_a}").rc == 0


def test_two_networks_are_isolated(hostns, bundle):
    for name, subnet in (("neta", "10.91.0.0/24"), ("netb", "10.92.0.0/24")):
        r = hostns.vsrv("network", "create", name, "--subnet", subnet)
        assert r.rc == 0, r
    a = server_bundle(bundle, ["sleep", "1000"])
    b = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(a, "--network", "bridge:neta")
    hostns.run_server(b, "--network", "bridge:netb")
    ip_b = hostns.ip_of(b)
    assert ip_b.startswith("10.92.0.")
    assert hostns.exec(a, "ping", "-c", "1", "-W", "2", "10.91.0.1").rc == 0  # own gateway: routed fine
    assert hostns.exec(a, "ping", "-c", "1", "-W", "2", ip_b).rc != 0
    assert hostns.exec(b, "ping", "-c", "1", "-W", "2", hostns.ip_of(a)).rc != 0
    # A network in use cannot be removed; once empty it can.
    r = hostns.vsrv("network", "rm", "netb")
    assert r.rc != 0 and "in use" in r.err, r
    hostns.delete(b.root, b.id)
    assert hostns.vsrv("network", "rm", "netb").rc == 0
    ls = hostns.vsrv("network", "ls").out
    assert "neta" in ls and "netb" not in ls and "vsrv0" in ls


def test_published_port_from_host_localhost_and_other_netns(hostns, bundle):
    outside = f"vt-{uuid.uuid4().hex[:8]}"
    assert run_cmd(["ip", "netns", "add", outside]).rc == 0
    try:
        hostns.sh(f"ip link add vt-up type veth peer name vt-down netns {outside} && "
                  "ip addr add 192.168.77.1/24 dev vt-up && ip link set vt-up up")
        run_cmd(["ip", "-n", outside, "addr", "add", "192.168.77.2/24", "dev", "vt-down"])
        run_cmd(["ip", "-n", outside, "link", "set", "vt-down", "up"])
        run_cmd(["ip", "-n", outside, "link", "set", "lo", "up"])
        srv = server_bundle(bundle, ["nc", "-ll", "-p", "80", "-e", "echo", "pong"])
        hostns.run_server(srv, "--network", "bridge", "--publish", "8080:80")
        wait_for(lambda: "pong" in hostns.sh("busybox nc -w 2 127.0.0.1 8080 </dev/null", check=False).out,
                 timeout=10, what="published port on 127.0.0.1")
        assert "pong" in hostns.sh("busybox nc -w 2 192.168.77.1 8080 </dev/null", check=False).out
        r = run_cmd(["ip", "netns", "exec", outside, "busybox", "nc", "-w", "3", "192.168.77.1", "8080"], timeout=15)
        assert "pong" in r.out, r
        # Hairpin: a second container reaches the published port through the host address.
        cli = server_bundle(bundle, ["sleep", "1000"])
        hostns.run_server(cli, "--network", "bridge")
        r = hostns.exec(cli, "sh", "-c", "nc -w 3 192.168.77.1 8080 </dev/null")
        assert "pong" in r.out, r
        table = hostns.sh("nft list tables").out
        assert "vsrv-c-" in table
    finally:
        run_cmd(["ip", "netns", "del", outside])


def test_static_ip_kept_and_second_request_refused(hostns, bundle):
    a = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(a, "--network", "bridge", "--ip", "10.90.0.77", "--mac", "02:aa:bb:cc:dd:ee")
    assert hostns.ip_of(a) == "10.90.0.77"
    assert "02:aa:bb:cc:dd:ee" in hostns.exec(a, "ip", "link", "show", "eth0").out
    b = server_bundle(bundle, ["sleep", "1000"])
    r = hostns.create(b, "--network", "bridge", "--ip", "10.90.0.77", check=False)
    assert r.rc != 0 and "10.90.0.77" in r.err and "in use" in r.err, r
    assert not b.state_dir().exists()
    assert list(hostns.leases().values()) == [a.id]


def test_bad_network_input_is_refused(hostns, bundle):
    b = server_bundle(bundle, ["sleep", "1000"])
    cases = [
        (["--network", "bridge:nosuchnet"], "network 'nosuchnet' does not exist"),
        (["--network", "bridge", "--publish", "70000:80"], "out of range"),
        (["--network", "bridge", "--ip", "10.90.7.300"], "invalid IPv4 address"),
        (["--network", "bridge", "--ip", "10.1.0.5"], "outside the subnet"),
        (["--network", "bridge", "--mac", "01:00:5e:00:00:01"], "multicast"),
        (["--network", "slirp"], "invalid --network"),
        (["--network", "host", "--publish", "80:80"], "need --network bridge"),
    ]
    for args, msg in cases:
        r = hostns.create(b, *args, check=False)
        assert r.rc != 0 and msg in r.err, (args, r)
        assert not b.state_dir().exists()
    r = hostns.vsrv("network", "create", "x", "--subnet", "10.0.0.0/33")
    assert r.rc != 0 and "invalid CIDR" in r.err, r
    r = hostns.vsrv("network", "create", "x", "--driver", "macvlan", "--parent", "nosuch0", "--subnet", "10.95.0.0/24")
    assert r.rc != 0 and "'nosuch0' does not exist" in r.err, r
    r = hostns.vsrv("network", "create", "x", "--subnet", "10.90.0.0/16")
    assert r.rc != 0 and "overlaps" in r.err, r
    assert hostns.leases() == {}


def test_macvlan_gets_own_mac(hostns, bundle):
    hostns.sh("ip link add vt-par0 type veth peer name vt-par1 && ip link set vt-par0 up && ip link set vt-par1 up "
              "&& ip addr add 10.94.0.1/24 dev vt-par1")
    r = hostns.vsrv("network", "create", "lan", "--driver", "macvlan", "--parent", "vt-par0", "--subnet", "10.94.0.0/24",
                    "--gateway", "10.94.0.1")
    assert r.rc == 0, r
    a = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(a, "--network", "macvlan:lan", "--mac", "02:12:34:56:78:9a")
    out = hostns.exec(a, "ip", "link", "show", "eth0").out
    assert "02:12:34:56:78:9a" in out, out
    assert hostns.ip_of(a) == "10.94.0.2"
    assert hostns.exec(a, "ping", "-c", "1", "-W", "3", "10.94.0.1").rc == 0
    r = hostns.create(server_bundle(bundle, ["true"]), "--network", "macvlan:lan", "--publish", "1:1", check=False)
    assert r.rc != 0 and "macvlan" in r.err


def test_none_mode_has_only_loopback_and_host_mode_shares(hostns, bundle):
    b = bundle(args=["sh", "-c", "ip -o link; ping -c1 -W1 127.0.0.1 >/dev/null && echo LO-OK"], overrides=CAPS_OVERRIDE)
    r = hostns.vsrv("run", "--bundle", b.path, "--network", "none", b.id, root=b.root)
    assert r.rc == 0, r
    assert "LO-OK" in r.out and "eth0" not in r.out, r
    hostns.sh("ip link add vt-marker type veth peer name vt-marker2")
    h = bundle(args=["ip", "-o", "link"])
    r = hostns.vsrv("run", "--bundle", h.path, "--network", "host", h.id, root=h.root)
    assert r.rc == 0 and "vt-marker" in r.out, r


def test_rate_limit_and_annotations(hostns, bundle):
    over = dict(CAPS_OVERRIDE, annotations={
        "org.vsrv.network": "bridge", "org.vsrv.network.ip": "10.90.0.99", "org.vsrv.network.rate": "1mbit"})
    b = bundle(args=["sleep", "1000"], overrides=over)
    hostns.run_server(b)
    assert hostns.ip_of(b) == "10.90.0.99"
    if shutil.which("tc") is None:
        pytest.skip("tc (iproute2) missing: cannot inspect the qdisc")
    veth = hostns.veths()
    assert len(veth) == 1, hostns.sh("ip -o link").out
    qd = hostns.sh(f"tc qdisc show dev {veth[0]}").out
    assert "tbf" in qd and "rate 1Mbit" in qd, qd
    # Counters of the host-side veth move with traffic (pinging the gateway from inside).
    assert hostns.exec(b, "ping", "-c", "2", "-W", "2", "10.90.0.1").rc == 0


def test_fifty_parallel_creates_get_distinct_addresses(hostns, bundle):
    b = bundle(args=["sleep", "1000"])
    ids = [f"{b.id}-{i}" for i in range(50)]
    with ThreadPoolExecutor(max_workers=16) as ex:
        results = list(ex.map(lambda cid: hostns.create(b, "--network", "bridge", cid=cid, check=False), ids))
    failed = [r for r in results if r.rc != 0]
    assert not failed, failed[:3]
    leases = hostns.leases()
    assert sorted(leases.values()) == sorted(ids)
    assert len(set(leases.keys())) == 50
    with ThreadPoolExecutor(max_workers=16) as ex:
        list(ex.map(lambda cid: hostns.delete(b.root, cid), ids))
    assert hostns.leases() == {}
    assert "vsrv-c-" not in hostns.sh("nft list tables").out
    assert hostns.veths() == []


def test_kill9_during_network_setup_then_delete_force_leaves_nothing(hostns, bundle):
    b = bundle(args=["sleep", "1000"])
    env = dict(hostns.env, VSRV_TEST_NET_DELAY_MS="20000")
    argv = ["nsenter", f"--net=/run/netns/{hostns.name}", VSRV_BIN, "--root", str(b.root), "create", "--bundle",
            str(b.path), "--network", "bridge", "--publish", "8080:80", b.id]
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hostns.containers.append((b.root, b.id))
    try:
        wait_for(lambda: hostns.veths(), timeout=20, what="the host-side veth")
        assert len(hostns.leases()) == 1
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    hostns.delete(b.root, b.id)
    assert hostns.veths() == [], hostns.sh("ip -o link").out
    assert "vsrv-c-" not in hostns.sh("nft list ruleset").out
    assert hostns.leases() == {}
    assert not (hostns.state_dir / "containers" / b.id).exists()


def test_lease_of_killed_container_is_reclaimed(hostns, bundle):
    b = bundle(args=["sleep", "1000"])
    hostns.create(b, "--network", "bridge", "--ip", "10.90.0.200")
    # The init dies without a delete: its lease is reclaimed by the next allocation.
    pid = json.loads(hostns.vsrv("state", b.id, root=b.root).out)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10, what="init gone")
    c = bundle(args=["sleep", "1000"])
    hostns.create(c, "--network", "bridge", "--ip", "10.90.0.200")
    assert hostns.leases() == {"10.90.0.200": c.id}


def test_failed_attach_rolls_back_lease_and_files(hostns, bundle):
    # A non-bridge interface squatting on the default bridge's name makes attach fail after the
    # lease and files exist: create must undo both (Rollback -> net::release).
    hostns.sh("ip link add vsrv0 type veth peer name vt-squat")
    b = bundle(args=["sleep", "1000"])
    r = hostns.create(b, "--network", "bridge", check=False)
    assert r.rc != 0 and "not a bridge" in r.err, r
    assert not b.state_dir().exists()
    assert hostns.leases() == {}
    assert not (hostns.state_dir / "containers" / b.id).exists()
    assert hostns.veths() == []


def test_ipv6_subnet(hostns, bundle):
    r = hostns.vsrv("network", "create", "dual", "--subnet", "10.96.0.0/24", "--ipv6-subnet", "fd00:96::/64", "--mtu", "1400")
    assert r.rc == 0, r
    info = json.loads(hostns.vsrv("network", "inspect", "dual").out)
    assert info["ipv6_subnet"] == "fd00:96::/64" and info["mtu"] == 1400 and info["bridge"] == "vsrv-dual"
    b = bundle(args=["sleep", "1000"], overrides=CAPS_OVERRIDE)
    hostns.run_server(b, "--network", "bridge:dual")
    out = hostns.exec(b, "ip", "addr", "show", "eth0").out
    assert "fd00:96::2/64" in out and "mtu 1400" in out, out
    assert "default via fd00:96::1" in hostns.exec(b, "ip", "-6", "route").out


def test_published_port_over_ipv6_from_host_and_other_netns(hostns, bundle):
    """--publish over IPv6: DNAT of the host's global addresses (bridge gateway, uplink veth) to
    the container's IPv6 address, from the "host" netns itself (output chain), from a second netns
    across a veth (prerouting) and hairpin from a container; a bracketed IPv6 HOSTIP publishes
    on that address only and not on IPv4; ::1 is not DNATed (IPv6 has no route_localnet)."""
    outside = f"vt-{uuid.uuid4().hex[:8]}"
    assert run_cmd(["ip", "netns", "add", outside]).rc == 0
    try:
        r = hostns.vsrv("network", "create", "dual6", "--subnet", "10.97.0.0/24", "--ipv6-subnet", "fd00:97::/64")
        assert r.rc == 0, r
        hostns.sh(f"ip link add vt-up type veth peer name vt-down netns {outside} && "
                  "ip addr add 192.168.78.1/24 dev vt-up && ip addr add fd00:78::1/64 dev vt-up nodad && "
                  "ip link set vt-up up")
        for cmd in (["addr", "add", "192.168.78.2/24", "dev", "vt-down"],
                    ["addr", "add", "fd00:78::2/64", "dev", "vt-down", "nodad"],
                    ["link", "set", "vt-down", "up"], ["link", "set", "lo", "up"]):
            assert run_cmd(["ip", "-n", outside] + cmd).rc == 0, cmd
        srv = server_bundle(bundle, ["nc", "-ll", "-p", "80", "-e", "echo", "pong"])
        hostns.run_server(srv, "--network", "bridge:dual6", "--publish", "8080:80",
                          "--publish", "[fd00:78::1]:8081:80", "--publish", "192.168.78.1:8082:80")
        assert "fd00:97::2/64" in hostns.exec(srv, "ip", "addr", "show", "eth0").out

        def nc(host, port, ns=None):
            argv = ["busybox", "nc", "-w", "3", host, str(port)]
            if ns is None:
                return hostns.sh(" ".join(argv) + " </dev/null", check=False).out
            return run_cmd(["nsenter", f"--net=/run/netns/{ns}"] + argv, timeout=15).out

        # From the "host" itself (output chain): its bridge and uplink addresses, not ::1.
        wait_for(lambda: "pong" in nc("fd00:97::1", 8080), timeout=10, what="published port on [fd00:97::1]")
        assert "pong" in nc("fd00:78::1", 8080)
        assert "pong" in nc("192.168.78.1", 8080)  # no HOSTIP: IPv4 too
        # From a second netns across the veth (prerouting).
        assert "pong" in nc("fd00:78::1", 8080, ns=outside)
        assert "pong" in nc("192.168.78.1", 8080, ns=outside)
        # An IPv6 HOSTIP publishes only there and only on IPv6; an IPv4 HOSTIP only on IPv4.
        assert "pong" in nc("fd00:78::1", 8081, ns=outside)
        assert "pong" not in nc("192.168.78.1", 8081, ns=outside)
        assert "pong" not in nc("fd00:97::1", 8081)
        assert "pong" in nc("192.168.78.1", 8082, ns=outside)
        assert "pong" not in nc("fd00:78::1", 8082, ns=outside)
        # ::1 is not DNATed (IPv6 has no route_localnet; podman has the same limit): refused at
        # once by the host's own stack rather than silently dropped.
        t0 = time.monotonic()
        assert "pong" not in nc("::1", 8080)
        assert time.monotonic() - t0 < 2.5
        # Hairpin: another container of the network reaches the published port at a host address.
        cli = server_bundle(bundle, ["sleep", "1000"])
        hostns.run_server(cli, "--network", "bridge:dual6")
        r = hostns.exec(cli, "sh", "-c", "nc -w 3 fd00:78::1 8080 </dev/null")
        assert "pong" in r.out, r
        rules = hostns.sh("nft list ruleset").out
        assert "dnat ip6 to [fd00:97::2]:80" in rules, rules
        # A bracketed HOSTIP on a network without an IPv6 subnet is refused before anything exists.
        b = server_bundle(bundle, ["true"])
        r = hostns.create(b, "--network", "bridge", "--publish", "[fd00:78::1]:9090:80", check=False)
        assert r.rc != 0 and "no IPv6 subnet" in r.err, r
        r = hostns.create(b, "--network", "bridge:dual6", "--publish", "[fd00:78::1:9090:80", check=False)
        assert r.rc != 0 and "missing ']'" in r.err, r
        # No HOSTIP publishes on both families, so the same port on an IPv6 HOSTIP clashes.
        r = hostns.create(b, "--network", "bridge:dual6", "--publish", "9090:80", "--publish", "[fd00:78::1]:9090:81",
                          check=False)
        assert r.rc != 0 and "given twice" in r.err, r
        assert not b.state_dir().exists()
    finally:
        run_cmd(["ip", "netns", "del", outside])


def test_container_and_ns_modes_join_existing_stacks(hostns, bundle):
    a = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(a, "--network", "bridge")
    ip_a = hostns.ip_of(a)
    b = bundle(args=["ip", "-4", "-o", "addr"], root=a.root)
    r = hostns.vsrv("run", "--bundle", b.path, "--network", f"container:{a.id}", b.id, root=b.root)
    assert r.rc == 0 and ip_a in r.out, r
    # ns:PATH joins a netns by path (here the test's own "host" netns, which has vsrv0).
    c = bundle(args=["ip", "-o", "link"])
    r = hostns.vsrv("run", "--bundle", c.path, "--network", f"ns:/run/netns/{hostns.name}", c.id, root=c.root)
    assert r.rc == 0 and "vsrv0" in r.out, r
    r = hostns.vsrv("run", "--bundle", c.path, "--network", "container:nosuch", c.id, root=c.root)
    assert r.rc != 0 and "nosuch" in r.err, r


def test_stats_and_events_count_network_traffic(hostns, bundle):
    # `stats` and `events` report the rx/tx of the container's interface (issue 3, once
    # networking landed): traffic the test makes must show up in both.
    b = server_bundle(bundle, ["sleep", "1000"])
    hostns.run_server(b, "--network", "bridge")
    r = hostns.exec(b, "ping", "-c", "3", "-i", "0.2", "-W", "3", "10.90.0.1")
    assert r.rc == 0, r
    r = hostns.vsrv("stats", "--no-stream", "--format", "json", b.id, root=b.root)
    assert r.rc == 0, r
    row = json.loads(r.out)[0]
    assert row["net_rx"] > 0 and row["net_tx"] > 0, row
    r = hostns.vsrv("events", "--stats", b.id, root=b.root)
    assert r.rc == 0, r
    nets = json.loads(r.out)["data"]["network_interfaces"]
    assert nets and nets[0]["name"] == "eth0" and nets[0]["rx_packets"] >= 3 and nets[0]["tx_packets"] >= 3, nets
    r = hostns.vsrv("stats", "--no-stream", b.id, root=b.root)
    assert r.rc == 0 and "--" not in r.out.splitlines()[1].split()[-1], r


def test_nat_helper_writable_by_others_is_refused(hostns, bundle, tmp_path):
    """vsrv runs vsrv-nft as root: a copy that others could have replaced is refused, and the
    failed create leaves no lease, veth or state behind."""
    helper = os.path.join(os.path.dirname(VSRV_BIN), "vsrv-nft")
    if not os.path.exists(helper):
        pytest.skip(f"no vsrv-nft next to {VSRV_BIN}")
    bad = tmp_path / "vsrv-nft"
    shutil.copy2(helper, bad)
    os.chmod(bad, 0o777)
    env = dict(hostns.env, VSRV_NFT_HELPER=str(bad))
    b = bundle(args=["sleep", "1000"])
    r = hostns.create(b, "--network", "bridge", "-p", "8080:80", check=False, env=env)
    assert r.rc != 0 and "refusing helper" in r.err and str(bad) in r.err, r
    assert not b.state_dir().exists()
    assert hostns.leases() == {}
    assert hostns.veths() == []
    # The same copy, made safe, works.
    os.chmod(bad, 0o755)
    r = hostns.create(b, "--network", "bridge", "-p", "8080:80", env=env)
    assert r.rc == 0, r
