"""dataDir round trip: one server writes a dataDir, the other kind of server reads it.

zkd reads and writes ZooKeeper 3.8's on-disk format (dataDir/version-2: log.<hex zxid>,
snapshot.<hex zxid>). The writer builds a tree with every node type, ACLs, sequentials,
a multi and two sessions whose ephemerals stay open; it is stopped (SIGTERM) with those
sessions still alive. The reader starts on the same dataDir and must serve exactly the
same tree (paths, data, every Stat field, ACLs), resume both sessions with their
ephemerals, end a session's ephemerals when it is closed, and continue the zxid sequence.

Default run: the two cross pairs zookeeper->zkd and zkd->zookeeper.
Validate the test itself against the reference (ZooKeeper on both sides):
    ZK_ROUNDTRIP_SELFCHECK=1 /usr/bin/python3 -m pytest -q -p no:cacheprovider \\
        tests/integration/test_datadir_roundtrip.py -k zookeeper-zookeeper
"""
import os
import shutil
import subprocess
import tempfile

import pytest
import zkservers
import zkwire
from kazoo.security import OPEN_ACL_UNSAFE, READ_ACL_UNSAFE, make_acl, make_digest_acl

from test_kazoo_helpers import make_client, stop_client, wait_for_sessions, wait_until

PAIRS = [("zookeeper", "zkd"), ("zkd", "zookeeper")]
if os.environ.get("ZK_ROUNDTRIP_SELFCHECK") == "1":
    PAIRS = PAIRS + [("zookeeper", "zookeeper")]

ROOT = "/rt"
USER1, PW1 = "alice", "alice-secret"
USER2, PW2 = "bob", "bob-secret"
SESSION_TIMEOUT = 30.0   # maxSessionTimeout is 20 x tickTime = 40 s with the default tick
TTL_MS = 3600 * 1000     # far longer than the test: no TTL node may expire meanwhile
STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


def _auth_client(srv, **kw):
    c = make_client(srv.hostport, timeout=SESSION_TIMEOUT, **kw)
    c.add_auth("digest", "%s:%s" % (USER1, PW1))
    c.add_auth("digest", "%s:%s" % (USER2, PW2))
    return c


def snapshot_tree(c):
    """{path: (data, stat tuple, acl tuple)} for every node, /zookeeper subtree excluded
    (it is the server's own, not written by the workload); "/" itself is included."""
    tree = {}
    stack = ["/"]
    while stack:
        p = stack.pop()
        data, st = c.get(p)
        acls, st2 = c.get_acls(p)
        assert st == st2, "stat of %s changed between get and getACL" % p
        tree[p] = (data,
                   tuple((f, getattr(st, f)) for f in STAT_FIELDS),
                   tuple((a.perms, a.id.scheme, a.id.id) for a in acls))
        for ch in sorted(c.get_children(p)):
            cp = ("/" + ch) if p == "/" else p + "/" + ch
            if cp != "/zookeeper":
                stack.append(cp)
    return tree


def max_zxid(tree):
    return max(max(dict(st)["czxid"], dict(st)["mzxid"], dict(st)["pzxid"])
               for _, st, _ in tree.values())


def srvr_zxid(srv):
    """The server's last processed zxid from the srvr four-letter word, or None."""
    try:
        for line in zkservers.four_letter(srv.port, "srvr").splitlines():
            if line.startswith("Zxid:"):
                return int(line.split(":", 1)[1].strip(), 16)
    except (OSError, ValueError):
        pass
    return None


def diff_trees(a, b):
    """Human-readable differences (at most 30 lines) between two snapshot_tree() maps."""
    out = []
    for p in sorted(set(a) - set(b)):
        out.append("missing on reader: %s" % p)
    for p in sorted(set(b) - set(a)):
        out.append("extra on reader: %s" % p)
    for p in sorted(set(a) & set(b)):
        (da, sa, aa), (db, sb, ab) = a[p], b[p]
        if da != db:
            out.append("%s data: writer %r reader %r" % (p, da, db))
        for (f, va), (_, vb) in zip(sa, sb):
            if va != vb:
                out.append("%s stat.%s: writer %r reader %r" % (p, f, va, vb))
        if aa != ab:
            out.append("%s acl: writer %r reader %r" % (p, aa, ab))
    if len(out) > 30:
        out = out[:30] + ["... %d more" % (len(out) - 30)]
    return out


def workload(c, w, sess_a, sess_b):
    """Several hundred txns covering every node type, data shape and ACL kind."""
    acl_digest_all = make_digest_acl(USER1, PW1, all=True)
    acl_digest_rw = make_digest_acl(USER2, PW2, read=True, write=True)
    acl_world_rd = make_acl("world", "anyone", read=True)

    c.create(ROOT, b"root-data")
    # data shapes: binary (every byte value), empty, null (length -1), large-ish
    c.create(ROOT + "/binary", bytes(range(256)) * 4)
    c.create(ROOT + "/empty", b"")
    c.create(ROOT + "/null", None)
    c.create(ROOT + "/utf8", "h\u00e9llo \u2603".encode("utf-8"))
    c.create(ROOT + "/big", os.urandom(100 * 1024))
    # nested paths
    c.create(ROOT + "/a/b/c/d/e", b"deep", makepath=True)
    for i in range(40):
        c.create("%s/a/b/n%03d" % (ROOT, i), b"v%d" % i)
    # persistent sequential (also under a parent whose cversion moves with deletes)
    c.create(ROOT + "/seq")
    seqs = [c.create(ROOT + "/seq/p-", b"s%d" % i, sequence=True) for i in range(30)]
    for p in seqs[::3]:
        c.delete(p)
    seqs2 = [c.create(ROOT + "/seq/q-", sequence=True) for i in range(5)]
    # many small nodes, many deleted again: pzxid / cversion / numChildren change
    c.create(ROOT + "/churn")
    for i in range(120):
        c.create("%s/churn/c%03d" % (ROOT, i), b"x" * (i % 7))
    for i in range(0, 120, 2):
        c.delete("%s/churn/c%03d" % (ROOT, i))
    c.create(ROOT + "/churn/gone/sub", makepath=True)
    c.delete(ROOT + "/churn/gone/sub")
    c.delete(ROOT + "/churn/gone")
    # setData several times: versions, mzxid/mtime; to empty and to null as well
    c.create(ROOT + "/ver", b"0")
    for i in range(1, 12):
        c.set(ROOT + "/ver", b"%d" % i)
    c.set(ROOT + "/ver", b"")
    c.set(ROOT + "/empty", None)
    c.set(ROOT + "/null", b"no longer null")
    c.create(ROOT + "/tonull", b"x")
    c.set(ROOT + "/tonull", None)
    # containers (a child keeps them from being reaped) and TTL nodes; kazoo 2.8 has no
    # createContainer / createTTL, so these go over the raw protocol (zkwire)
    def ok(reply):
        assert reply.ok, reply
        return reply.body
    ok(w.create_container(ROOT + "/cont", b"container"))
    c.create(ROOT + "/cont/child", b"keep")
    ok(w.create_container(ROOT + "/cont/inner", b""))
    c.create(ROOT + "/cont/inner/x")
    c.create(ROOT + "/cont/gone")
    c.delete(ROOT + "/cont/gone")
    ok(w.create_ttl(ROOT + "/ttl", b"ttl-data", ttl=TTL_MS))
    c.create(ROOT + "/ttl/kid", b"k")
    c.set(ROOT + "/ttl", b"ttl-data-2")
    ok(w.create_ttl(ROOT + "/ttlseq-", b"ts", ttl=TTL_MS,
                    flags=zkwire.PERSISTENT_SEQUENTIAL_WITH_TTL))
    ok(w.create_ttl(ROOT + "/ttlseq-", None, ttl=TTL_MS + 1,
                    flags=zkwire.PERSISTENT_SEQUENTIAL_WITH_TTL))
    # a multi with the extended create types in it
    res = ok(w.multi([zkwire.ops.create_container(ROOT + "/mcont", b"mc"),
                      zkwire.ops.create(ROOT + "/mcont/k", b"k"),
                      zkwire.ops.create_ttl(ROOT + "/mttl", b"mt", ttl=TTL_MS),
                      zkwire.ops.create(ROOT + "/mttl/k", None),
                      zkwire.ops.create2(ROOT + "/mseq-", b"ms2",
                                         flags=zkwire.PERSISTENT_SEQUENTIAL)]))
    assert all(r.err == zkwire.OK for r in res), res
    # ACLs: created with, and changed by setACL (aversion), digest and world
    c.create(ROOT + "/acl-digest", b"secret", acl=[acl_digest_all])
    c.create(ROOT + "/acl-digest/below", b"s2", acl=[acl_digest_all, acl_digest_rw])
    c.create(ROOT + "/acl-mixed", b"m", acl=[acl_world_rd, acl_digest_all])
    c.create(ROOT + "/acl-set", b"a")
    c.set_acls(ROOT + "/acl-set", [acl_digest_all, acl_world_rd])
    c.set_acls(ROOT + "/acl-set", [acl_world_rd, acl_digest_all, acl_digest_rw])
    c.set_acls(ROOT + "/acl-set", READ_ACL_UNSAFE + [acl_digest_all])
    c.create(ROOT + "/acl-open", b"o", acl=OPEN_ACL_UNSAFE)
    c.set_acls(ROOT + "/acl-open", [acl_digest_rw, acl_digest_all], version=0)
    c.set_acls(ROOT + "/acl-open", OPEN_ACL_UNSAFE, version=1)
    # a multi transaction
    c.create(ROOT + "/multi")
    c.create(ROOT + "/multi/old", b"old")
    c.create(ROOT + "/multi/chk", b"chk")
    tx = c.transaction()
    tx.create(ROOT + "/multi/new", b"new")
    tx.create(ROOT + "/multi/seq-", b"ms", sequence=True)
    tx.set_data(ROOT + "/multi/chk", b"chk2", version=0)
    tx.check(ROOT + "/multi/chk", 1)
    tx.delete(ROOT + "/multi/old")
    res = tx.commit()
    assert not any(isinstance(r, Exception) for r in res), res
    # a failed multi writes an error txn: the zxid moves, no node changes
    tx = c.transaction()
    tx.create(ROOT + "/multi/never", b"n")
    tx.check(ROOT + "/multi/chk", 99)
    res = tx.commit()
    assert any(isinstance(r, Exception) for r in res), res
    assert c.exists(ROOT + "/multi/never") is None
    # ephemerals of the two sessions that stay open across the restart
    c.create(ROOT + "/eph")
    for name, s in (("a", sess_a), ("b", sess_b)):
        s.create("%s/eph/%s-plain" % (ROOT, name), b"e-" + name.encode(), ephemeral=True)
        s.create("%s/eph/%s-empty" % (ROOT, name), b"", ephemeral=True)
        for i in range(3):
            s.create("%s/eph/%s-seq-" % (ROOT, name), b"es%d" % i, ephemeral=True, sequence=True)
        s.create("%s/eph/%s-gone" % (ROOT, name), ephemeral=True)
        s.delete("%s/eph/%s-gone" % (ROOT, name))
    c.create(ROOT + "/eph/persistent-neighbour", b"p")
    # last: more writes so the final state spans several log files
    for i in range(60):
        c.set("%s/a/b/n%03d" % (ROOT, i % 40), b"w%d" % i)
    return len(seqs) + len(seqs2)


def version2_files(data_dir):
    d = os.path.join(data_dir, "version-2")
    names = sorted(os.listdir(d)) if os.path.isdir(d) else []
    logs = [n for n in names if n.startswith("log.")]
    snaps = [n for n in names if n.startswith("snapshot.")]
    return names, logs, snaps


def zxid_suffix(name):
    return int(name.split(".", 1)[1], 16)


@pytest.fixture
def roundtrip_env():
    """Owns the dataDir, every server and every client of the test; all of it is stopped
    (servers by PID) and removed at the end, whatever happened."""
    env = {"servers": [], "clients": []}
    env["base"] = tempfile.mkdtemp(prefix="zkt-roundtrip-")
    env["data_dir"] = os.path.join(env["base"], "data")
    os.makedirs(env["data_dir"])
    yield env
    for c in reversed(env["clients"]):
        stop_client(c)
    errors = []
    for s in env["servers"]:
        try:
            s.stop()
        except Exception as e:
            errors.append(str(e))
    shutil.rmtree(env["base"], ignore_errors=True)
    if errors:
        raise AssertionError("\n".join(errors))


@pytest.mark.parametrize("writer_kind,reader_kind", PAIRS, ids=["%s-%s" % p for p in PAIRS])
def test_datadir_roundtrip(roundtrip_env, writer_kind, reader_kind):
    env = roundtrip_env
    data_dir = env["data_dir"]
    cfg = {"dataDir": data_dir, "snapCount": "60"}

    def server(kind):
        s = zkservers.Server(kind=kind, cfg=dict(cfg))
        env["servers"].append(s)
        s.start()
        return wait_for_sessions(s)

    def client(srv, **kw):
        c = _auth_client(srv, **kw)
        env["clients"].append(c)
        return c

    # 1-2. writer on a fresh dataDir, workload
    writer = server(writer_kind)
    main = client(writer)
    sess_a = client(writer)
    sess_b = client(writer)
    w = zkwire.connect("127.0.0.1", writer.port, timeout_ms=int(SESSION_TIMEOUT * 1000))
    try:
        workload(main, w, sess_a, sess_b)
        assert w.close_session().ok
    finally:
        w.close()

    # 3. the full tree, as seen by a client that can read every node and its ACLs
    before = snapshot_tree(main)
    assert len(before) > 150, len(before)
    ids = {"a": sess_a.client_id, "b": sess_b.client_id}
    owners = {name: sorted(p for p, (_, st, _) in before.items()
                           if dict(st)["ephemeralOwner"] == sid)
              for name, (sid, _) in ids.items()}
    assert all(len(v) == 5 for v in owners.values()), owners
    stop_client(main)
    env["clients"].remove(main)
    last_zxid = max(max_zxid(before), srvr_zxid(writer) or 0)
    assert last_zxid & 0xFFFFFFFF > 300, hex(last_zxid)  # several hundred txns

    # 4. stop the writer under the two open sessions, keep the dataDir
    writer.stop()
    # only now keep the two clients from reconnecting (the server is gone: no
    # closeSession can reach anyone)
    for s in (sess_a, sess_b):
        stop_client(s)
        env["clients"].remove(s)
    names, logs, snaps = version2_files(data_dir)
    assert len(logs) > 1 and len(snaps) > 1, (
        "%s wrote no multi-file dataDir in %s: %r" % (writer_kind, data_dir, names))
    assert max(zxid_suffix(n) for n in logs) <= last_zxid, names
    # our own checker agrees that the writer's files are whole and gap-free
    zkctl = os.environ.get("ZKCTL_BIN") or os.path.join(zkservers.REPO, "bin", "zkctl")
    assert os.access(zkctl, os.X_OK), "zkctl not built at %s" % zkctl
    r = subprocess.run([zkctl, "dir", "verify", data_dir], capture_output=True, text=True)
    assert r.returncode == 0, "zkctl dir verify on %s's dataDir:\n%s%s" % (
        writer_kind, r.stdout, r.stderr)

    # 5. reader on the same dataDir
    reader = server(reader_kind)
    check = client(reader)
    after = snapshot_tree(check)
    diff = diff_trees(before, after)
    assert not diff, "%s -> %s tree differs:\n%s" % (writer_kind, reader_kind, "\n".join(diff))

    # both writer sessions come back, still owning their ephemerals
    resumed = {}
    for name, (sid, pw) in ids.items():
        r = client(reader, client_id=(sid, pw))
        assert r.client_id == (sid, pw), (
            "session %s (0x%x) was not resumed: got 0x%x" % (name, sid, r.client_id[0]))
        for p in owners[name]:
            assert check.exists(p).ephemeralOwner == sid, p
        # the resumed session is usable: it can write and its ephemerals stay its own
        r.create("%s/eph/%s-after" % (ROOT, name), ephemeral=True)
        resumed[name] = r
    # closing a resumed session deletes its ephemerals (and only its own)
    resumed["a"].stop()
    for p in owners["a"] + ["%s/eph/a-after" % ROOT]:
        assert check.exists(p) is None, p
    for p in owners["b"] + ["%s/eph/b-after" % ROOT]:
        assert check.exists(p).ephemeralOwner == ids["b"][0], p

    # new writes continue the zxid sequence
    check.create(ROOT + "/new-after-restart", b"n")
    st = check.exists(ROOT + "/new-after-restart")
    assert st.czxid > last_zxid, (hex(st.czxid), hex(last_zxid))
    assert check.exists(ROOT).pzxid == st.czxid
    seq = check.create(ROOT + "/seq/p-", sequence=True)
    # the sequence counter is the parent's stored cversion, which counts child creates
    # only (ZooKeeper reports cversion = 2 * creates - numChildren): the reader must have
    # restored it, not derived it from the visible cversion
    seq_stat = dict(after[ROOT + "/seq"][1])
    assert int(seq.rsplit("-", 1)[1]) == (seq_stat["cversion"] + seq_stat["numChildren"]) // 2

    # 6. stop the reader; the fixture stops clients and removes the tempdir
    resumed["b"].stop()
    wait_until(lambda: check.exists("%s/eph/b-plain" % ROOT) is None,
               msg="closing resumed session b left its ephemerals")
    for c in list(env["clients"]):
        stop_client(c)
    env["clients"].clear()
    reader.stop()
    assert not reader.alive()
