"""zkbench (tools/zkbench.c), the load generator behind `make bench`, against a live server.

Goal: every workload zkbench offers does on the server what it says (checked with kazoo,
not with zkbench's own counters), its JSON is complete, open loop offers the asked rate (and lines its slowest requests
up by second),
its reply checker catches a server whose data is not what was written, bad usage exits 2
naming the option, and --pause-probe reports consistent figures. Speed is not asserted.

Method: one server per module (zkd, or ZooKeeper with ZK_TARGET=zookeeper, which checks
the test itself); each test uses its own --seed and key count so phases do not overlap.

Binary: $ZKBENCH_BIN, else <repo>/build/asan/zkbench; a missing binary fails the test.
A sanitizer report on stderr fails the test whatever the exit status.
"""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkservers  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402


def zkbench_bin():
    path = os.environ.get("ZKBENCH_BIN", os.path.join(zkservers.REPO, "build", "asan", "zkbench"))
    if not os.access(path, os.X_OK):
        pytest.fail("zkbench binary not found at %s: run `make MODE=asan build/asan/zkbench` or "
                    "set ZKBENCH_BIN" % path)
    return path


def zkbench(*args, timeout=120):
    """Runs zkbench; returns (exit status, [JSON phases], stderr)."""
    p = subprocess.run([zkbench_bin()] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    for marker in ("Sanitizer", "runtime error:"):
        assert marker not in err, "zkbench %s: sanitizer report:\n%s" % (args, err)
    phases = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("{"):
            phases.append(json.loads(line))
    return p.returncode, phases, err


def phase(phases, name):
    found = [p for p in phases if p["phase"] == name]
    assert len(found) == 1, "phase %r: %d reported in %s" % (name, len(found), phases)
    return found[0]


@pytest.fixture
def zk(server):
    c = KazooClient(hosts=server.hostport, timeout=10)
    c.start(timeout=15)
    yield c
    c.stop()
    c.close()


def keys_of(zk, n):
    return ["/zkbench/n%d" % i for i in range(n)]


def test_populate_set_and_get_do_what_they_report(server, zk):
    keys = 300
    rc, ph, err = zkbench("--port", server.port, "--json", "--clients", 4, "--inflight", 8,
                          "--keys", keys, "--value-bytes", 100, "--seed", 11,
                          "--workload", "populate,set,get,exists", "--ops", 1000)
    assert rc == 0, err
    pop = phase(ph, "populate")
    assert pop["ops"] == keys
    for name in ("set", "get", "exists"):
        p = phase(ph, name)
        assert p["ops"] == 1000 and p["mode"] == "closed", p
        assert p["clients"] == 4 and p["inflight"] == 8 and p["keys"] == keys
        lat = p["latency_us"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"] * 1.01
    # On the server: every key exists with 100 lowercase bytes, and each setData bumped
    # exactly one version, so the versions add up to the set phase's count.
    versions = 0
    for k in keys_of(zk, keys):
        data, st = zk.get(k)
        assert len(data) == 100 and all(ord("a") <= b <= ord("z") for b in data), k
        versions += st.version
    assert versions == 1000


def test_create_workloads_make_the_nodes_they_count(server, zk):
    rc, ph, err = zkbench("--port", server.port, "--json", "--clients", 3, "--inflight", 4,
                          "--keys", 10, "--value-bytes", 7, "--seed", 12,
                          "--workload", "create,create-sequential,create-ephemeral",
                          "--ops", 240)
    assert rc == 0, err
    for name in ("create", "create-sequential", "create-ephemeral"):
        assert phase(ph, name)["ops"] == 240
    parents = zk.get_children("/zkbench")
    made = {}
    for p in parents:
        if p[0] in "cse" and p[1:] and p != "kids":
            kids = zk.get_children("/zkbench/" + p)
            made.setdefault(p[0], []).append((p, kids))
    # persistent: still there, with the data size asked for
    [(c_parent, c_kids)] = made["c"]
    assert len(c_kids) == 240
    data, _ = zk.get("/zkbench/%s/%s" % (c_parent, c_kids[0]))
    assert len(data) == 7
    # sequential: 240 distinct 10-digit suffixes
    [(s_parent, s_kids)] = made["s"]
    assert len(s_kids) == 240 and all(k[-10:].isdigit() for k in s_kids)
    # ephemeral: the sessions closed when zkbench exited, so the nodes went with them
    [(e_parent, e_kids)] = made["e"]
    assert e_kids == []


def test_children_multi_and_delete(server, zk):
    rc, ph, err = zkbench("--port", server.port, "--json", "--clients", 2, "--inflight", 4,
                          "--keys", 50, "--children", 40, "--multi-ops", 3, "--seed", 13,
                          "--workload", "populate,children,multi,delete", "--ops", 100)
    assert rc == 0, err
    assert phase(ph, "children")["ops"] == 100
    assert phase(ph, "multi")["ops"] == 100
    assert len(zk.get_children("/zkbench/kids")) == 40
    # delete removes each key once and ends when none is left, whatever --ops says
    assert phase(ph, "delete")["ops"] == 50
    assert [k for k in keys_of(zk, 50) if zk.exists(k)] == []


def test_open_loop_offers_the_rate_asked(server, zk):
    rc, ph, err = zkbench("--port", server.port, "--json", "--clients", 4, "--inflight", 16,
                          "--keys", 100, "--seed", 14, "--workload", "mix", "--read-pct", 80,
                          "--rate", 2000, "--duration", 2)
    assert rc == 0, err
    p = phase(ph, "mix")
    assert p["mode"] == "open" and p["offered_rate"] == 2000
    assert 3800 <= p["ops"] <= 4200, p  # 2 s at 2000/s, counted to the due time
    assert p["reads"] + p["writes"] == p["ops"] and p["writes"] > 0
    assert 0.5 <= p["writes"] / p["ops"] / 0.2 <= 1.5
    assert "oversleeps" in p and p["oversleep_max_us"] >= 0
    # one slowest latency per second of the phase, the overall max among them
    series = p["max_us_by_s"]
    assert len(series) in (2, 3), p
    assert all(v > 0 for v in series[:2]), p
    assert abs(max(series) - p["latency_us"]["max"]) <= 1, p
    assert series[int(p["max_at_s"])] == max(series), p


def test_reply_checker_fails_a_server_whose_data_differs(server, zk):
    # --no-populate promises the keys hold this seed's bytes; they hold other bytes.
    for k in keys_of(zk, 20):
        zk.ensure_path(k)
        zk.set(k, b"not what zkbench wrote")
    rc, ph, err = zkbench("--port", server.port, "--json", "--clients", 1, "--inflight", 1,
                          "--keys", 20, "--seed", 15, "--no-populate", "--workload", "get",
                          "--ops", 10)
    assert rc == 1, err
    assert "FAIL" in err and "/zkbench/n" in err, err


@pytest.mark.parametrize("args,named", [
    (["--clients", "0"], "--clients"),
    (["--read-pct", "101"], "--read-pct"),
    (["--workload", "teleport"], "teleport"),
    (["--pause-probe", "0"], "--pause-probe"),
    (["--no-such-option", "1"], "--no-such-option"),
])
def test_bad_usage_exits_2_naming_it(args, named):
    rc, ph, err = zkbench(*args)
    assert rc == 2 and named in err and ph == [], err


def test_pause_probe_reports_consistent_figures():
    rc, ph, err = zkbench("--pause-probe", 2, "--duration", 0.5, "--json")
    assert rc == 0, err
    p = phase(ph, "pauses")
    assert p["threads"] == 2 and p["secs"] == 0.5
    assert 0 <= p["over_5ms"] <= p["over_1ms"]
    assert p["implied_p99_us"] <= p["implied_p999_us"] <= p["max_us"] + 0.1
    assert p["paused_ms"] * 1000 >= p["max_us"] - 0.1
    assert "pauses" in err and "implied_us" in err
