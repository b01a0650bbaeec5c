"""kazoo against the server: create/get/set/delete, Stat rules, sequential nodes, path
validation, data sizes and pipelining.

Every expected value here was checked against Apache ZooKeeper 3.8.0 (ZK_TARGET=zookeeper).
"""
import os

import pytest
from kazoo.exceptions import (BadArgumentsError, BadVersionError, ConnectionLoss, NoAuthError,
                              NodeExistsError, NoNodeError, NotEmptyError)
from kazoo.protocol.serialization import Create, Delete, Exists, GetChildren, GetData, SetData
from kazoo.security import ACL, Id, OPEN_ACL_UNSAFE

from test_kazoo_helpers import now_ms, uniq, wait_until
from test_kazoo_helpers import fresh_server, path, zk, zk_factory  # noqa: F401  (fixtures)


def raw(client, req, timeout=10):
    """Send a protocol request as is, bypassing kazoo's path normalisation and checks."""
    ar = client.handler.async_result()
    client._call(req, ar)
    return ar.get(timeout=timeout)


# ---------------------------------------------------------------------------------------
# CRUD


def test_create_get_roundtrip(zk, path):
    t0 = now_ms()
    assert zk.create(path, b"hello") == path
    t1 = now_ms()
    data, st = zk.get(path)
    assert data == b"hello"
    assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
    assert (st.dataLength, st.numChildren, st.ephemeralOwner) == (5, 0, 0)
    assert st.czxid == st.mzxid == st.pzxid > 0
    assert st.ctime == st.mtime
    assert t0 - 2000 <= st.ctime <= t1 + 2000


def test_create_include_data_returns_stat(zk, path):
    # include_data=True makes kazoo send create2 (opcode 15): path + Stat of the new node.
    p, st = zk.create(path, b"abc", include_data=True)
    assert p == path
    assert st == zk.exists(path)
    assert (st.version, st.cversion, st.aversion, st.dataLength, st.numChildren) == (0, 0, 0, 3, 0)
    assert st.czxid == st.mzxid == st.pzxid
    p2, st2 = zk.create(path + "/s-", b"", sequence=True, include_data=True)
    assert p2 == path + "/s-0000000000"
    assert st2 == zk.exists(p2)
    assert st2.czxid > st.czxid
    parent = zk.exists(path)
    assert parent.pzxid == st2.czxid
    assert (parent.cversion, parent.numChildren) == (1, 1)
    with pytest.raises(NodeExistsError):
        zk.create(path, b"x", include_data=True)
    with pytest.raises(NoNodeError):
        zk.create(path + "/missing/child", include_data=True)


def test_create_existing_node(zk, path):
    zk.create(path, b"first")
    before = zk.exists(path)
    with pytest.raises(NodeExistsError):
        zk.create(path, b"second")
    data, st = zk.get(path)
    assert data == b"first"
    assert st == before


def test_create_missing_parent_and_makepath(zk, path):
    with pytest.raises(NoNodeError):
        zk.create(path + "/a/b", b"leaf")
    assert zk.exists(path) is None
    assert zk.create(path + "/a/b", b"leaf", makepath=True) == path + "/a/b"
    assert zk.get(path + "/a/b")[0] == b"leaf"
    # kazoo creates the missing parents with empty (not null) data
    assert zk.get(path)[0] == b""
    assert zk.get(path + "/a")[0] == b""
    assert zk.get_children(path) == ["a"]


def test_ensure_path(zk, path):
    # kazoo returns the created path, or True when the node already existed
    assert zk.ensure_path(path + "/x/y") == path + "/x/y"
    for p in (path, path + "/x", path + "/x/y"):
        st = zk.exists(p)
        assert st is not None and st.dataLength == 0
    before = [zk.exists(p) for p in (path, path + "/x", path + "/x/y")]
    assert zk.ensure_path(path + "/x/y") is True
    assert [zk.exists(p) for p in (path, path + "/x", path + "/x/y")] == before


def test_exists(zk, path):
    assert zk.exists(path) is None
    zk.create(path, b"12")
    st = zk.exists(path)
    assert st == zk.get(path)[1]
    assert st.dataLength == 2


def test_get_children(zk, path):
    zk.create(path)
    assert zk.get_children(path) == []
    names = ["c%d" % i for i in range(10)] + ["\u00fc-\u540d", "a.b", "..."]
    for n in names:
        zk.create(path + "/" + n)
    assert sorted(zk.get_children(path)) == sorted(names)
    children, st = zk.get_children(path, include_data=True)  # getChildren2 (opcode 12)
    assert sorted(children) == sorted(names)
    assert st == zk.exists(path)
    assert (st.numChildren, st.cversion) == (len(names), len(names))
    assert path[1:] in zk.get_children("/")
    assert "zookeeper" in zk.get_children("/")


def test_missing_node_errors(zk, path):
    with pytest.raises(NoNodeError):
        zk.get(path)
    with pytest.raises(NoNodeError):
        zk.set(path, b"x")
    with pytest.raises(NoNodeError):
        zk.delete(path)
    with pytest.raises(NoNodeError):
        zk.get_children(path)
    with pytest.raises(NoNodeError):
        zk.get_children(path, include_data=True)
    with pytest.raises(NoNodeError):
        zk.get_acls(path)
    with pytest.raises(NoNodeError):
        zk.set_acls(path, OPEN_ACL_UNSAFE)
    with pytest.raises(NoNodeError):
        zk.delete(path + "/child")


def test_delete(zk, path):
    zk.create(path)
    zk.delete(path)
    assert zk.exists(path) is None
    with pytest.raises(NoNodeError):
        zk.delete(path)


def test_delete_not_empty(zk, path):
    zk.create(path + "/child", makepath=True)
    with pytest.raises(NotEmptyError):
        zk.delete(path)
    # the version check comes before the emptiness check
    with pytest.raises(BadVersionError):
        zk.delete(path, version=5)
    assert zk.exists(path + "/child") is not None
    zk.delete(path + "/child")
    zk.delete(path, version=0)
    assert zk.exists(path) is None


def test_set_version_conditional(zk, path):
    zk.create(path, b"0")
    assert zk.set(path, b"1", version=0).version == 1
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=0)
    with pytest.raises(BadVersionError):
        zk.set(path, b"x", version=7)
    data, st = zk.get(path)
    assert (data, st.version) == (b"1", 1)
    assert zk.set(path, b"2", version=1).version == 2
    assert zk.set(path, b"3", version=-1).version == 3
    assert zk.get(path)[0] == b"3"


def test_delete_version_conditional(zk, path):
    zk.create(path)
    zk.set(path, b"v1")
    with pytest.raises(BadVersionError):
        zk.delete(path, version=0)
    with pytest.raises(BadVersionError):
        zk.delete(path, version=2)
    assert zk.exists(path).version == 1
    zk.delete(path, version=1)
    assert zk.exists(path) is None


def test_null_and_empty_data(zk, path):
    # kazoo sends value=None as a null buffer (length -1) and b"" as an empty one (length 0).
    # ZooKeeper keeps the difference: getData of a null node returns a null buffer (None),
    # with dataLength 0 either way.
    zk.create(path + "-null", None)
    zk.create(path + "-empty", b"")
    data, st = zk.get(path + "-null")
    assert data is None and st.dataLength == 0
    data, st = zk.get(path + "-empty")
    assert data == b"" and st.dataLength == 0
    assert zk.set(path + "-empty", None).dataLength == 0
    assert zk.get(path + "-empty")[0] is None
    zk.set(path + "-null", b"")
    assert zk.get(path + "-null")[0] == b""
    zk.set(path + "-null", b"x")
    assert zk.get(path + "-null") == (b"x", zk.exists(path + "-null"))


def test_binary_data(zk, path):
    blob = bytes(range(256)) * 4
    zk.create(path, blob)
    data, st = zk.get(path)
    assert data == blob and st.dataLength == 1024
    blob2 = b"\x00" * 100 + b"\xff\xfe" + b"\x00"
    assert zk.set(path, blob2).dataLength == len(blob2)
    assert zk.get(path)[0] == blob2


def test_data_near_1mb(zk, path):
    big = os.urandom(1000000)
    zk.create(path, big)
    data, st = zk.get(path)
    assert data == big and st.dataLength == 1000000
    big2 = os.urandom(1000000)
    assert zk.set(path, big2).dataLength == 1000000
    assert zk.get(path)[0] == big2


def test_frame_size_limit(zk, path):
    # A setData frame is 8 (header) + 4+len(path) + 4+len(data) + 4 (version) bytes. The
    # server accepts frames up to jute.maxbuffer = 1048575 bytes and drops the connection
    # (not the session) for a longer one. Its replies are not limited: getData of the
    # largest node is a frame above 1 MiB.
    zk.create(path)
    n_max = 1048575 - 20 - len(path.encode())
    assert zk.set(path, b"a" * n_max).dataLength == n_max
    data, st = zk.get(path)
    assert len(data) == n_max and data == b"a" * n_max
    sid = zk.client_id[0]
    with pytest.raises(ConnectionLoss):
        zk.set(path, b"b" * (n_max + 1))
    wait_until(lambda: zk.connected, msg="client did not reconnect after the oversized frame")
    assert zk.client_id[0] == sid
    data, st = zk.get(path)
    assert data == b"a" * n_max and st.version == 1


def test_sync(zk, path):
    zk.create(path)
    assert zk.sync(path) == path
    # sync does not look the path up: it echoes it even for a missing node
    assert zk.sync(path + "/missing") == path + "/missing"


def test_four_letter_words_through_kazoo(zk):
    # KazooClient.command() opens its own socket and sends the bare word
    assert zk.command(b"ruok") == "imok"
    assert zk.command(b"isro") == "rw"
    srvr = zk.command(b"srvr").splitlines()
    assert "Mode: standalone" in srvr
    assert any(line.startswith("Zxid: 0x") for line in srvr)


# ---------------------------------------------------------------------------------------
# Stat rules


def test_fresh_server_root_and_system_nodes(fresh_server, zk_factory):
    srv = fresh_server()
    c = zk_factory(srv)
    # Stat fields in order: czxid mzxid ctime mtime version cversion aversion ephemeralOwner
    # dataLength numChildren pzxid
    data, st = c.get("/")
    assert data == b""
    assert tuple(st) == (0, 0, 0, 0, 0, -1, 0, 0, 0, 1, 0)
    assert c.get_children("/") == ["zookeeper"]
    data, st = c.get("/zookeeper")
    assert data == b""
    assert tuple(st) == (0, 0, 0, 0, 0, -2, 0, 0, 0, 2, 0)
    assert sorted(c.get_children("/zookeeper")) == ["config", "quota"]
    data, st = c.get("/zookeeper/quota")
    assert data == b""
    assert tuple(st) == (0,) * 11
    data, st = c.get("/zookeeper/config")
    assert data == b""  # standalone: no dynamic config text
    # ZooKeeper installs the config node's ACL with setACL(version -1), which leaves
    # aversion at -1.
    assert tuple(st) == (0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0)
    world_all = [ACL(31, Id("world", "anyone"))]
    assert c.get_acls("/")[0] == world_all
    assert c.get_acls("/zookeeper")[0] == world_all
    assert c.get_acls("/zookeeper/quota")[0] == world_all
    assert c.get_acls("/zookeeper/config")[0] == [ACL(1, Id("world", "anyone"))]
    with pytest.raises(NoAuthError):
        c.set("/zookeeper/config", b"server.1=x")

    # The parent's child-create counter of a fresh "/" is 0 (visible cversion
    # 2*counter - numChildren = -1), so its first sequential child gets suffix 0.
    p, st_a = c.create("/seq-", b"", sequence=True, include_data=True)
    assert p == "/seq-0000000000"
    root = c.exists("/")
    assert (root.cversion, root.numChildren, root.pzxid) == (0, 2, st_a.czxid)
    assert (root.mzxid, root.version) == (0, 0)
    c.delete(p)
    root = c.exists("/")
    assert (root.cversion, root.numChildren) == (1, 1)
    assert root.pzxid > st_a.czxid
    # same rule under /zookeeper: counter 0, two children → cversion -2; creating children
    # there is allowed
    p = c.create("/zookeeper/s-", sequence=True)
    assert p == "/zookeeper/s-0000000000"
    assert c.exists("/zookeeper").cversion == -1
    c.delete(p)
    assert c.exists("/zookeeper").cversion == 0


def test_set_updates_stat(zk, path):
    zk.create(path, b"")
    st0 = zk.exists(path)
    st1 = zk.set(path, b"12345")
    assert st1 == zk.exists(path)
    assert st1.version == 1
    assert st1.mzxid > st0.mzxid
    assert (st1.czxid, st1.ctime, st1.pzxid) == (st0.czxid, st0.ctime, st0.pzxid)
    assert st1.mtime >= st0.mtime
    assert (st1.cversion, st1.aversion, st1.dataLength) == (0, 0, 5)
    st2 = zk.set(path, b"1")
    assert (st2.version, st2.dataLength) == (2, 1)
    assert st2.mzxid > st1.mzxid and st2.mtime >= st1.mtime
    assert st2.pzxid == st0.pzxid


def test_cversion_and_pzxid(zk, path):
    zk.create(path)
    p0 = zk.exists(path)
    assert p0.cversion == 0 and p0.pzxid == p0.czxid
    czxid = {}
    for i, n in enumerate("abc"):
        _, st = zk.create(path + "/" + n, include_data=True)
        czxid[n] = st.czxid
        p = zk.exists(path)
        assert (p.cversion, p.numChildren, p.pzxid) == (i + 1, i + 1, st.czxid)
        assert (p.mzxid, p.version) == (p0.mzxid, 0)
    zk.delete(path + "/b")
    p = zk.exists(path)
    assert (p.cversion, p.numChildren) == (4, 2)
    probe_path = uniq()
    probe = zk.create(probe_path, include_data=True)[1]
    zk.delete(probe_path)
    # pzxid is the delete's zxid: after the last create, before the next write
    assert czxid["c"] < p.pzxid < probe.czxid
    zk.create(path + "/b")
    p2 = zk.exists(path)
    assert (p2.cversion, p2.numChildren) == (5, 3)
    # setData on a child or on the node itself does not touch cversion/pzxid
    zk.set(path + "/a", b"x")
    zk.set(path, b"y")
    p3 = zk.exists(path)
    assert (p3.cversion, p3.pzxid, p3.numChildren) == (p2.cversion, p2.pzxid, 3)
    assert p3.mzxid > p2.mzxid and p3.version == 1
    # grandchildren do not count
    zk.create(path + "/a/x")
    zk.delete(path + "/a/x")
    p4 = zk.exists(path)
    assert (p4.cversion, p4.pzxid, p4.numChildren) == (p3.cversion, p3.pzxid, 3)
    a = zk.exists(path + "/a")
    assert (a.cversion, a.numChildren) == (2, 0)
    assert a.pzxid > a.mzxid


def test_set_acls_changes_only_aversion(zk, path):
    zk.create(path, b"d")
    st0 = zk.exists(path)
    st1 = zk.set_acls(path, OPEN_ACL_UNSAFE)
    assert st1 == zk.exists(path)
    assert st1.aversion == 1
    assert (st1.version, st1.cversion, st1.mzxid, st1.mtime, st1.pzxid, st1.dataLength) == \
        (st0.version, st0.cversion, st0.mzxid, st0.mtime, st0.pzxid, st0.dataLength)
    assert zk.set_acls(path, OPEN_ACL_UNSAFE, version=1).aversion == 2
    with pytest.raises(BadVersionError):
        zk.set_acls(path, OPEN_ACL_UNSAFE, version=1)


def test_ephemeral_owner(zk_factory, path):
    a = zk_factory()
    b = zk_factory()
    a.create(path)
    assert a.exists(path).ephemeralOwner == 0
    _, sa = a.create(path + "/ea", ephemeral=True, include_data=True)
    _, sb = b.create(path + "/eb", ephemeral=True, include_data=True)
    assert sa.ephemeralOwner == a.client_id[0] != 0
    assert sb.ephemeralOwner == b.client_id[0] != 0
    assert a.client_id[0] != b.client_id[0]
    assert b.exists(path + "/ea").ephemeralOwner == a.client_id[0]
    assert a.exists(path).numChildren == 2


# ---------------------------------------------------------------------------------------
# Sequential nodes


def test_sequence_suffix_counts_all_child_creates(zk, path):
    zk.create(path)
    assert zk.create(path + "/s-", sequence=True) == path + "/s-0000000000"
    zk.create(path + "/plain")  # non-sequential creates advance the counter too
    assert zk.create(path + "/s-", sequence=True) == path + "/s-0000000002"
    zk.delete(path + "/plain")  # deletions do not decrement it
    zk.delete(path + "/s-0000000000")
    assert zk.create(path + "/s-", sequence=True) == path + "/s-0000000003"
    with pytest.raises(NodeExistsError):  # a failed create does not consume a number
        zk.create(path + "/s-0000000003")
    assert zk.create(path + "/s-", sequence=True) == path + "/s-0000000004"
    # the counter belongs to the parent, shared by every prefix
    assert zk.create(path + "/other-", sequence=True) == path + "/other-0000000005"
    assert zk.create(path + "/x", b"", sequence=True) == path + "/x0000000006"
    st = zk.exists(path)
    # 7 creates, 2 deletes: cversion = 9, 5 children
    assert (st.cversion, st.numChildren) == (9, 5)
    assert sorted(zk.get_children(path)) == sorted(
        ["s-0000000002", "s-0000000003", "s-0000000004", "other-0000000005", "x0000000006"])


def test_sequence_with_trailing_slash(zk, path):
    # kazoo keeps the trailing "/" for sequential creates; the server validates the path
    # after appending the suffix, so the child is named by the digits alone.
    zk.create(path)
    assert zk.create(path + "/", b"d", sequence=True) == path + "/0000000000"
    assert zk.create(path + "/", b"d", sequence=True) == path + "/0000000001"
    assert sorted(zk.get_children(path)) == ["0000000000", "0000000001"]


def test_ephemeral_sequential(zk_factory, path):
    a = zk_factory()
    b = zk_factory()
    b.create(path)
    p1, s1 = a.create(path + "/e-", b"a", ephemeral=True, sequence=True, include_data=True)
    p2, s2 = b.create(path + "/e-", b"b", ephemeral=True, sequence=True, include_data=True)
    assert (p1, p2) == (path + "/e-0000000000", path + "/e-0000000001")
    assert s1.ephemeralOwner == a.client_id[0]
    assert s2.ephemeralOwner == b.client_id[0]
    a.stop()  # closeSession: its ephemerals are gone when the reply arrives
    assert b.exists(p1) is None
    assert b.exists(p2) is not None
    assert b.create(path + "/e-", ephemeral=True, sequence=True) == path + "/e-0000000002"
    st = b.exists(path)
    assert (st.cversion, st.numChildren) == (4, 2)


# ---------------------------------------------------------------------------------------
# Path validation (raw requests; kazoo itself normalises "//", trailing "/" and rejects
# "." / ".." components before sending)


@pytest.mark.parametrize("suffix", [
    "/",             # trailing slash
    "/.",            # "." component
    "/..",           # ".." component
    "/a\x00b",       # NUL
    "/\x01",         # control characters U+0001-U+001F
    "/a\x1fb",
    "/\x7f",         # U+007F-U+009F
    "/\u0085",
    "/\u009f",
    "/\ue000",       # U+D800-U+F8FF (private use part; lone surrogates cannot be sent as UTF-8)
    "/\uf8ff",
    "/\ufff0",       # U+FFF0-U+FFFF
    "/\uffff",
    "/\U0001F600",   # above U+FFFF (a surrogate pair for the Java server)
])
def test_create_invalid_path_bad_arguments(zk, path, suffix):
    zk.create(path)
    with pytest.raises(BadArgumentsError):
        raw(zk, Create(path + suffix, b"", OPEN_ACL_UNSAFE, 0))
    assert zk.get_children(path) == []
    assert zk.exists(path).cversion == 0


@pytest.mark.parametrize("name", [".hidden", "a..b", "...", "a.", "\u00a0", "\u00fc\u00e9",
                                  "\u4e2d\u6587", "\ufeff", "sp ace", "\uf900"])
def test_create_unusual_valid_names(zk, path, name):
    zk.create(path)
    assert raw(zk, Create(path + "/" + name, b"v", OPEN_ACL_UNSAFE, 0)) == path + "/" + name
    assert zk.get_children(path) == [name]
    assert zk.get(path + "/" + name)[0] == b"v"


def test_invalid_paths_on_other_ops(zk, path):
    zk.create(path)
    rel = path[1:]
    with pytest.raises(BadArgumentsError):  # no leading "/"
        raw(zk, Create(rel + "-x", b"", OPEN_ACL_UNSAFE, 0))
    # ZooKeeper looks the parent up before validating the whole path: for "P//x" the
    # parent "P/" does not exist.
    with pytest.raises(NoNodeError):
        raw(zk, Create(path + "//x", b"", OPEN_ACL_UNSAFE, 0))
    with pytest.raises(BadArgumentsError):
        raw(zk, Delete(rel, -1))
    with pytest.raises(BadArgumentsError):
        raw(zk, SetData(rel, b"", -1))
    with pytest.raises(BadArgumentsError):
        raw(zk, SetData(path + "/", b"", -1))
    with pytest.raises(BadArgumentsError):  # exists rejects NUL only
        raw(zk, Exists(path + "\x00", False))
    # reads do not validate: an invalid path is simply not found
    with pytest.raises(NoNodeError):
        raw(zk, GetData(rel, False))
    with pytest.raises(NoNodeError):
        raw(zk, GetChildren(rel, False))
    assert raw(zk, Exists(rel, False)) is None
    assert raw(zk, Exists(path + "/", False)) is None
    with pytest.raises(NoNodeError):
        raw(zk, Delete(path + "/", -1))
    assert zk.exists(path) is not None


def test_system_nodes_cannot_be_deleted(zk):
    for p in ("/zookeeper", "/zookeeper/quota", "/zookeeper/config"):
        with pytest.raises(BadArgumentsError):
            zk.delete(p)
        assert zk.exists(p) is not None
    p = uniq("/zookeeper/kz")
    zk.create(p, b"ok")  # other children of /zookeeper are ordinary nodes
    zk.delete(p)
    assert zk.exists(p) is None


# ---------------------------------------------------------------------------------------
# Pipelining


def test_pipelined_async_ops(zk, path):
    zk.create(path)
    n = 300
    paths = ["%s/n%04d" % (path, i) for i in range(n)]
    # all creates and reads go out back to back; a read must not overtake an earlier
    # write of the same session, and replies come back in request order
    creates = [zk.create_async(p, b"v%d" % i) for i, p in enumerate(paths)]
    gets = [zk.get_async(p) for p in paths]
    assert [r.get(timeout=30) for r in creates] == paths
    results = [g.get(timeout=30) for g in gets]
    assert [d for d, _ in results] == [b"v%d" % i for i in range(n)]
    czxids = [st.czxid for _, st in results]
    assert czxids == sorted(czxids) and len(set(czxids)) == n
    # version-chained sets succeed only if applied in the order sent
    sets = [zk.set_async(paths[0], b"%d" % i, version=i) for i in range(n)]
    assert [s.get(timeout=30).version for s in sets] == list(range(1, n + 1))
    # an error in the middle of a pipeline hits only that request
    mixed = [zk.create_async(path + "/m0"), zk.create_async(paths[5]),
             zk.create_async(path + "/m1"), zk.delete_async(path + "/nothere"),
             zk.exists_async(path + "/m1")]
    assert mixed[0].get(timeout=30) == path + "/m0"
    with pytest.raises(NodeExistsError):
        mixed[1].get(timeout=30)
    assert mixed[2].get(timeout=30) == path + "/m1"
    with pytest.raises(NoNodeError):
        mixed[3].get(timeout=30)
    assert mixed[4].get(timeout=30).czxid > czxids[-1]
    dels = [zk.delete_async(p) for p in paths]
    exists = [zk.exists_async(p) for p in paths]
    assert [d.get(timeout=30) for d in dels] == [True] * n
    assert [e.get(timeout=30) for e in exists] == [None] * n
    st = zk.exists(path)
    assert st.numChildren == 2
    assert st.cversion == 2 * n + 2


def test_many_children(zk, path):
    zk.create(path)
    n = 1000
    rs = [zk.create_async("%s/c%d" % (path, i)) for i in range(n)]
    for r in rs:
        r.get(timeout=30)
    children, st = zk.get_children(path, include_data=True)
    assert sorted(children) == sorted("c%d" % i for i in range(n))
    assert (st.numChildren, st.cversion) == (n, n)
