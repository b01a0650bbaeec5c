"""kazoo against the server: ACLs and authentication.

Version note. Apache ZooKeeper 3.8.0 (the Debian reference) does not check READ on
exists(); ZOOKEEPER-2590 (3.8.4 / 3.9.2) added the check, and zkd follows 3.9. Tests that
touch it branch on the target. getACL is checked (READ or ADMIN) and digest ids are redacted
to "user:x" without ADMIN in both lines (CVE-2019-0201, fixed in 3.4.14 / 3.5.5), so those
assertions are the same for both.
"""
import base64
import hashlib

import pytest
from kazoo.exceptions import (AuthFailedError, BadVersionError, ConnectionClosedError,
                              InvalidACLError, NoAuthError)
from kazoo.protocol.serialization import Create
from kazoo.protocol.states import KazooState, KeeperState
from kazoo.security import (ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_acl, make_digest_acl,
                            make_digest_acl_credential)

from test_kazoo_helpers import IS_ZKD, track_keeper_states, wait_until
from test_kazoo_helpers import fresh_server, path, zk, zk_factory  # noqa: F401  (fixtures)

WORLD = Id("world", "anyone")


def digest_id(user, pw):
    """digest ids are user:base64(sha1("user:pw")), computed here independently of kazoo."""
    h = base64.b64encode(hashlib.sha1(("%s:%s" % (user, pw)).encode()).digest()).decode()
    return "%s:%s" % (user, h)


def raw(client, req, timeout=10):
    ar = client.handler.async_result()
    client._call(req, ar)
    return ar.get(timeout=timeout)


def outcome(fn):
    try:
        fn()
        return "ok"
    except NoAuthError:
        return "noauth"


def test_digest_helper_matches_kazoo():
    assert digest_id("alice", "secret") == make_digest_acl_credential("alice", "secret")


def test_digest_acl_enforced(zk_factory, path):
    owner = zk_factory(auth_data=[("digest", "alice:secret")])
    anon = zk_factory()
    owner.create(path, b"d", acl=[make_digest_acl("alice", "secret", all=True)])
    owner.create(path + "/child", b"c")
    assert owner.get(path)[0] == b"d"
    for op in (lambda: anon.get(path),
               lambda: anon.set(path, b"x"),
               lambda: anon.get_children(path),
               lambda: anon.create(path + "/new"),
               lambda: anon.delete(path + "/child"),
               lambda: anon.get_acls(path),
               lambda: anon.set_acls(path, OPEN_ACL_UNSAFE)):
        with pytest.raises(NoAuthError):
            op()
    # a wrong password is a different identity, not an error
    anon.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        anon.get(path)
    anon.add_auth("digest", "alice:secret")
    assert anon.get(path)[0] == b"d"
    anon.set(path, b"now")
    assert owner.get(path)[0] == b"now"
    assert owner.get_children(path) == ["child"]


PERM_OPS = ["get", "get_children", "get_acls", "set", "create_child", "delete_child",
            "set_acls"]
ALLOWED = {
    Permissions.READ: {"get", "get_children", "get_acls"},
    Permissions.WRITE: {"set"},
    Permissions.CREATE: {"create_child"},
    Permissions.DELETE: {"delete_child"},
    Permissions.ADMIN: {"get_acls", "set_acls"},  # getACL needs READ or ADMIN
    Permissions.ALL: set(PERM_OPS),
}


@pytest.mark.parametrize("perm", sorted(ALLOWED), ids=lambda p: "perms%d" % p)
def test_each_permission_bit(zk, path, perm):
    zk.create(path)
    zk.create(path + "/victim")
    acl = [ACL(perm, WORLD)]
    zk.set_acls(path, acl)
    ops = {
        "get": lambda: zk.get(path),
        "get_children": lambda: zk.get_children(path),
        "get_acls": lambda: zk.get_acls(path),
        "set": lambda: zk.set(path, b"x"),
        "create_child": lambda: zk.create(path + "/new"),
        "delete_child": lambda: zk.delete(path + "/victim"),
        "set_acls": lambda: zk.set_acls(path, acl),
    }
    got = {name: outcome(ops[name]) for name in PERM_OPS}
    want = {name: ("ok" if name in ALLOWED[perm] else "noauth") for name in PERM_OPS}
    assert got == want


def test_delete_checks_parent_not_node(zk_factory, path):
    owner = zk_factory(auth_data=[("digest", "o:o")])
    anon = zk_factory()
    owner.create(path, acl=[ACL(Permissions.DELETE | Permissions.READ, WORLD),
                            make_digest_acl("o", "o", all=True)])
    owner.create(path + "/locked", acl=[make_digest_acl("o", "o", all=True)])
    # the node's own ACL forbids everything for anon, but DELETE on the parent is what counts
    with pytest.raises(NoAuthError):
        anon.get(path + "/locked")
    anon.delete(path + "/locked")
    assert owner.get_children(path) == []
    with pytest.raises(NoAuthError):  # no CREATE on the parent
        anon.create(path + "/x")


def test_create_with_foreign_acl(zk, path):
    # creating only needs CREATE on the parent; the new node may lock its creator out
    zk.create(path, b"x", acl=[make_digest_acl("someone", "else", all=True)])
    with pytest.raises(NoAuthError):
        zk.get(path)
    zk.delete(path)  # "/" grants DELETE to everyone
    assert zk.exists(path) is None


def test_get_acls_returns_acl_and_stat(zk_factory, path):
    carol = zk_factory(auth_data=[("digest", "carol:pw")])
    acl = [make_digest_acl("bob", "pw", read=True),
           make_digest_acl("carol", "pw", all=True),
           ACL(Permissions.READ, WORLD)]
    carol.create(path, b"d", acl=acl)
    got, st = carol.get_acls(path)
    assert got == acl  # list order kept
    assert got[0].id.id == digest_id("bob", "pw")
    assert st == carol.exists(path)
    assert st.aversion == 0


def test_get_acls_redacts_digests_without_admin(zk_factory, path):
    carol = zk_factory(auth_data=[("digest", "carol:pw")])
    bob = zk_factory(auth_data=[("digest", "bob:pw")])
    anon = zk_factory()
    acl = [make_digest_acl("bob", "pw", read=True),
           make_digest_acl("carol", "pw", all=True),
           ACL(Permissions.READ, WORLD)]
    carol.create(path, acl=acl)
    redacted = [ACL(Permissions.READ, Id("digest", "bob:x")),
                ACL(Permissions.ALL, Id("digest", "carol:x")),
                ACL(Permissions.READ, WORLD)]
    assert bob.get_acls(path)[0] == redacted
    assert anon.get_acls(path)[0] == redacted
    assert carol.get_acls(path)[0] == acl


def test_get_acls_needs_read_or_admin(zk_factory, path):
    bob = zk_factory(auth_data=[("digest", "bob:pw")])
    anon = zk_factory()
    acl = [make_digest_acl("bob", "pw", admin=True)]
    bob.create(path, b"d", acl=acl)
    with pytest.raises(NoAuthError):
        anon.get_acls(path)
    assert bob.get_acls(path)[0] == acl  # ADMIN: not redacted
    with pytest.raises(NoAuthError):
        bob.get(path)  # ADMIN alone does not grant READ


def test_exists_without_read_permission(zk_factory, path):
    owner = zk_factory(auth_data=[("digest", "o:o")])
    anon = zk_factory()
    owner.create(path, b"d", acl=[make_digest_acl("o", "o", all=True)])
    if IS_ZKD:
        # ZooKeeper 3.9.2+/3.8.4+ (ZOOKEEPER-2590): exists() on an existing node needs READ
        with pytest.raises(NoAuthError):
            anon.exists(path)
    else:
        # ZooKeeper 3.8.0 answers exists() without any permission check
        assert anon.exists(path) == owner.exists(path)
    # a missing node is NONODE → None for everybody
    assert anon.exists(path + "/missing") is None


def test_set_acls_version_and_effect(zk_factory, path):
    c = zk_factory()
    c.create(path, b"d")
    st = c.set_acls(path, [ACL(Permissions.READ | Permissions.ADMIN, WORLD)], version=0)
    assert (st.aversion, st.version) == (1, 0)
    with pytest.raises(NoAuthError):  # takes effect immediately
        c.set(path, b"x")
    with pytest.raises(BadVersionError):
        c.set_acls(path, OPEN_ACL_UNSAFE, version=0)
    assert c.set_acls(path, OPEN_ACL_UNSAFE, version=1).aversion == 2
    assert c.set(path, b"x").version == 1
    assert c.get_acls(path)[0] == [ACL(Permissions.ALL, WORLD)]
    assert c.set_acls(path, OPEN_ACL_UNSAFE, version=-1).aversion == 3


def test_auth_scheme_acl(zk_factory, path):
    c = zk_factory(auth_data=[("digest", "u1:p1"), ("digest", "u2:p2")])
    # kazoo sends the empty id of the "auth" pseudo-scheme as a null string
    c.create(path + "-rw", acl=[make_acl("auth", "", read=True, write=True)])
    c.create(path + "-all", acl=[make_acl("auth", "", all=True)])
    # "auth" expands to one entry per authenticated identity of the session (ip is not one)
    got = c.get_acls(path + "-all")[0]
    assert sorted(got) == sorted([ACL(Permissions.ALL, Id("digest", digest_id("u1", "p1"))),
                                  ACL(Permissions.ALL, Id("digest", digest_id("u2", "p2")))])
    got = c.get_acls(path + "-rw")[0]  # no ADMIN: redacted
    assert sorted(got) == sorted([ACL(Permissions.READ | Permissions.WRITE, Id("digest", "u1:x")),
                                  ACL(Permissions.READ | Permissions.WRITE, Id("digest", "u2:x"))])
    other = zk_factory(auth_data=[("digest", "u2:p2")])
    assert other.get(path + "-all")[0] == b""
    anon = zk_factory()
    with pytest.raises(NoAuthError):
        anon.get(path + "-all")
    # without an authenticated identity the "auth" ACL is invalid
    with pytest.raises(InvalidACLError):
        anon.create(path + "-x", acl=[make_acl("auth", "", all=True)])
    assert anon.exists(path + "-x") is None


@pytest.mark.parametrize("acl", [
    [],
    [ACL(Permissions.ALL, Id("world", "someone"))],
    [ACL(Permissions.ALL, Id("digest", "no-colon"))],
    [ACL(Permissions.ALL, Id("ip", "not-an-ip"))],
    [ACL(Permissions.ALL, Id("ip", "10.0.0.0/99"))],
    [ACL(Permissions.ALL, Id("nosuchscheme", "x"))],
    [ACL(Permissions.READ, WORLD), ACL(Permissions.ALL, Id("digest", "no-colon"))],
], ids=["empty", "world-not-anyone", "digest-no-colon", "ip-garbage", "ip-bad-prefix",
        "unknown-scheme", "one-bad-entry"])
def test_invalid_acl(zk, path, acl):
    # kazoo's create() turns an empty list into its default ACL, so send create raw
    with pytest.raises(InvalidACLError):
        raw(zk, Create(path, b"", acl, 0))
    assert zk.exists(path) is None
    zk.create(path)
    with pytest.raises(InvalidACLError):
        zk.set_acls(path, acl)
    acls, st = zk.get_acls(path)
    assert acls == [ACL(Permissions.ALL, WORLD)] and st.aversion == 0


@pytest.mark.parametrize("ip,allowed", [
    ("127.0.0.1", True), ("10.1.2.3", False), ("127.0.0.0/8", True), ("127.0.0.1/32", True),
    ("127.0.0.2/32", False), ("10.0.0.0/8", False), ("0.0.0.0/0", True),
])
def test_ip_acl(zk, path, ip, allowed):
    zk.create(path, b"ip", acl=[make_acl("ip", ip, read=True)])
    if allowed:
        assert zk.get(path)[0] == b"ip"
        assert zk.get_acls(path)[0] == [ACL(Permissions.READ, Id("ip", ip))]
    else:
        with pytest.raises(NoAuthError):
            zk.get(path)
        with pytest.raises(NoAuthError):
            zk.get_acls(path)


def test_multiple_digest_identities(zk_factory, path):
    c = zk_factory()
    c.create(path)
    c.create(path + "/a", b"a", acl=[make_digest_acl("a", "1", all=True)])
    c.create(path + "/b", b"b", acl=[make_digest_acl("b", "2", all=True)])
    c.add_auth("digest", "a:1")
    assert c.get(path + "/a")[0] == b"a"
    with pytest.raises(NoAuthError):
        c.get(path + "/b")
    c.add_auth("digest", "b:2")  # identities accumulate
    assert (c.get(path + "/a")[0], c.get(path + "/b")[0]) == (b"a", b"b")


def test_acl_checks_in_transaction(zk_factory, path):
    c = zk_factory()
    c.create(path)
    c.create(path + "/ro", b"r", acl=[ACL(Permissions.READ, WORLD)])
    c.create(path + "/wo", b"w", acl=[ACL(Permissions.WRITE, WORLD)])
    tx = c.transaction()
    tx.set_data(path + "/ro", b"x")
    assert [type(r) for r in tx.commit()] == [NoAuthError]
    tx = c.transaction()
    tx.create(path + "/ok")
    tx.create(path + "/ro/child")
    assert [type(r).__name__ for r in tx.commit()] == ["RolledBackError", "NoAuthError"]
    tx = c.transaction()
    tx.check(path + "/wo", 0)  # check needs READ
    assert [type(r) for r in tx.commit()] == [NoAuthError]
    tx = c.transaction()
    tx.set_data(path + "/wo", b"x")  # WRITE is enough for setData
    assert tx.commit()[0].version == 1
    assert sorted(c.get_children(path)) == ["ro", "wo"]


def test_super_digest(fresh_server, zk_factory, path):
    pw = "sup3r"
    digest = base64.b64encode(hashlib.sha1(("super:%s" % pw).encode()).digest()).decode()
    srv = fresh_server(cfg={"DigestAuthenticationProvider.superDigest": "super:" + digest})
    owner = zk_factory(srv, auth_data=[("digest", "alice:a")])
    root = zk_factory(srv, auth_data=[("digest", "super:" + pw)])
    fake = zk_factory(srv, auth_data=[("digest", "super:wrong")])
    acl = [make_digest_acl("alice", "a", read=True, create=True, delete=True)]
    owner.create(path, b"secret", acl=acl)
    owner.create(path + "/c")
    with pytest.raises(NoAuthError):
        fake.get(path)
    # super passes every check
    assert root.get(path)[0] == b"secret"
    assert root.set(path, b"changed").version == 1
    assert root.get_children(path) == ["c"]
    assert root.create(path + "/by-super") == path + "/by-super"
    root.delete(path + "/c")
    assert root.get_acls(path)[0] == acl  # not redacted
    assert root.set_acls(path, OPEN_ACL_UNSAFE).aversion == 1
    assert fake.get(path)[0] == b"changed"
    # the super digest is an identity for "auth" ACLs as well
    root.create(path + "-auth", acl=[make_acl("auth", "", all=True)])
    assert root.get_acls(path + "-auth")[0] == [ACL(Permissions.ALL, Id("digest", "super:" + digest))]


def test_auth_failed_unknown_scheme(zk_factory):
    c = zk_factory()
    states = track_keeper_states(c)
    with pytest.raises(AuthFailedError):
        c.add_auth("nosuchscheme", "whatever")
    # kazoo's reaction, step by step: AUTH_FAILED on the error reply; CONNECTING because the
    # server then closes the connection; it reconnects, re-sends the failing auth and gives
    # up (CLOSED).
    wait_until(lambda: c.client_state == KeeperState.CLOSED)
    assert states[:2] == [KeeperState.AUTH_FAILED, KeeperState.CONNECTING]
    assert KeeperState.AUTH_FAILED in states[2:]
    assert c.state == KazooState.LOST
    with pytest.raises(ConnectionClosedError):
        c.get("/")
    other = zk_factory()  # the server is fine
    assert other.exists("/") is not None
