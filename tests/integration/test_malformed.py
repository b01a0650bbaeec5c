"""Bad input on the client port: framing, jute decoding, requests out of place, invalid
arguments, abusive clients.

Every case opens its own raw socket, sends the bad input and asserts what that connection
gets back (an error reply, a close, or both), then checks that the server still serves a
separate, already-handshaked session (getData("/") before and after) and a brand-new
connection.

The expected behaviour is what Apache ZooKeeper 3.8 (Debian package, 3.8.0) does; run the
file with ZK_TARGET=zookeeper to check the tests themselves. Where zkd may legitimately
differ, the comment says so and the test asserts only the safe contract (error reply or
close, never a hang, server alive). Observed ZooKeeper behaviour that disagrees with
/work/shared/reference/*.md is marked "DOC:".

The wire framing is written out here on purpose (struct-packed), independent of any client
library, so a bug in a shared codec cannot hide a server bug.
"""
import os
import random
import select
import socket
import struct
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkservers  # noqa: E402

TARGET = zkservers.default_target()
MAXBUFFER = 1048575          # jute.maxbuffer default (0xFFFFF)
IO_TIMEOUT = 10.0            # any single expected reply / close must come within this

# opcodes
OP_CREATE, OP_DELETE, OP_EXISTS, OP_GETDATA, OP_SETDATA = 1, 2, 3, 4, 5
OP_PING, OP_MULTI, OP_CREATE2, OP_MULTIREAD = 11, 14, 15, 22
OP_SETWATCHES, OP_CLOSE = 101, -11

# error codes
OK, MARSHALLINGERROR, UNIMPLEMENTED, BADARGUMENTS = 0, -5, -6, -8
NONODE, INVALIDACL = -101, -114


# --------------------------------------------------------------------------- framing

def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def ustr(s):
    """jute ustring / buffer: i32 length + bytes; None = null (-1)."""
    if s is None:
        return i32(-1)
    if isinstance(s, str):
        s = s.encode("utf-8")
    return i32(len(s)) + s


def frame(payload):
    return i32(len(payload)) + payload


def req(xid, op, body=b""):
    return frame(i32(xid) + i32(op) + body)


def connect_request(timeout_ms=40000, session_id=0, passwd=b"\0" * 16, last_zxid=0,
                    read_only=True):
    p = i32(0) + i64(last_zxid) + i32(timeout_ms) + i64(session_id) + ustr(passwd)
    if read_only is not None:
        p += b"\1" if read_only else b"\0"
    return frame(p)


def acl(perms, scheme, ident):
    return i32(perms) + ustr(scheme) + ustr(ident)


def acl_list(*entries):
    return i32(len(entries)) + b"".join(entries)


WORLD_ALL = acl_list(acl(31, "world", "anyone"))


def get_data_body(path, watch=False):
    return ustr(path) + (b"\1" if watch else b"\0")


def create_body(path, data=b"", acls=WORLD_ALL, flags=0):
    return ustr(path) + ustr(data) + acls + i32(flags)


def multi_header(op, done=False, err=-1):
    return i32(op) + (b"\1" if done else b"\0") + i32(err)


MULTI_END = multi_header(-1, True, -1)


class Closed(Exception):
    """The server closed (FIN or RST) the connection."""


def recv_exact(sock, n, timeout=IO_TIMEOUT):
    deadline = time.monotonic() + timeout
    buf = b""
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1fs waiting for %d bytes (got %d): "
                                 "server neither answered nor closed" % (timeout, n, len(buf)))
        sock.settimeout(left)
        try:
            d = sock.recv(n - len(buf))
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            raise Closed("reset after %d/%d bytes" % (len(buf), n))
        if not d:
            raise Closed("EOF after %d/%d bytes" % (len(buf), n))
        buf += d
    return buf


def recv_frame(sock, timeout=IO_TIMEOUT):
    (n,) = struct.unpack(">i", recv_exact(sock, 4, timeout))
    assert 0 <= n <= 64 * 1024 * 1024, "server sent frame length %d" % n
    return recv_exact(sock, n, timeout)


def parse_reply(payload):
    assert len(payload) >= 16, "reply shorter than a ReplyHeader: %r" % payload
    xid, zxid, err = struct.unpack(">iqi", payload[:16])
    return xid, zxid, err, payload[16:]


def read_until_closed(sock, timeout=IO_TIMEOUT):
    """Everything the server sends until it closes; fails if it keeps the connection open."""
    deadline = time.monotonic() + timeout
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("connection still open after %.1fs (received %r); the "
                                 "server should have closed it" % (timeout, buf[:200]))
        sock.settimeout(left)
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return buf
        if not d:
            return buf
        buf += d


def split_frames(buf):
    out = []
    while buf:
        assert len(buf) >= 4, "trailing partial length prefix %r" % buf
        (n,) = struct.unpack(">i", buf[:4])
        assert 0 <= n <= len(buf) - 4, "truncated frame in %r" % buf[:200]
        out.append(buf[4:4 + n])
        buf = buf[4 + n:]
    return out


def send_quietly(sock, data):
    """sendall that tolerates the server closing on us half-way (that is often the point)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def open_socket(port):
    return socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)


def parse_connect_response(payload):
    assert len(payload) in (36, 37), "ConnectResponse of %d bytes: %r" % (len(payload), payload)
    proto, timeout, sid, plen = struct.unpack(">iiqi", payload[:20])
    assert plen == 16, payload
    return timeout, sid, payload[20:36]


class Raw:
    """A handshaked raw session (one TCP connection, ordered request/reply)."""

    def __init__(self, port, timeout_ms=40000, io_timeout=IO_TIMEOUT):
        self.sock = open_socket(port)
        try:
            self.sock.sendall(connect_request(timeout_ms))
            self.timeout_ms, self.session_id, self.passwd = \
                parse_connect_response(recv_frame(self.sock, io_timeout))
        except BaseException:
            self.sock.close()
            raise
        assert self.timeout_ms > 0 and self.session_id != 0
        self.xid = 0

    def next_xid(self):
        self.xid += 1
        return self.xid

    def send(self, data):
        self.sock.sendall(data)

    def reply(self, timeout=IO_TIMEOUT):
        return parse_reply(recv_frame(self.sock, timeout))

    def call(self, op, body=b"", xid=None):
        """Send one request; return (err, body) of its reply (xid must echo)."""
        xid = self.next_xid() if xid is None else xid
        self.send(req(xid, op, body))
        rxid, _zxid, err, rbody = self.reply()
        assert rxid == xid, "reply xid %d for request xid %d (op %d)" % (rxid, xid, op)
        if err != OK:
            assert rbody == b"", "error reply %d carries a body %r" % (err, rbody)
        return err, rbody

    def get_data(self, path="/"):
        err, body = self.call(OP_GETDATA, get_data_body(path))
        assert err == OK, "getData(%r) -> %d" % (path, err)
        (dlen,) = struct.unpack(">i", body[:4])
        data = body[4:4 + dlen] if dlen >= 0 else None
        assert len(body) == 4 + max(dlen, 0) + 68, "getData reply of %d bytes" % len(body)
        return data

    def exists(self, path):
        err, _ = self.call(OP_EXISTS, get_data_body(path))
        return err

    def close(self):
        """closeSession, then close the socket (best effort)."""
        try:
            self.sock.sendall(req(self.next_xid(), OP_CLOSE))
            self.sock.settimeout(2.0)
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.sock.close()


def connect_with_retry(port, deadline_s=15.0):
    """A new session; retried briefly because a server may still be tearing down the
    connections a case just dropped (ZooKeeper counts them against maxClientCnxns=60 per
    IP until its selector thread has processed the close)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return Raw(port, io_timeout=3.0)
        except (OSError, Closed, AssertionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)   # polling interval, not a correctness sleep


def assert_serving(server, healthy):
    assert server.alive(), "server process died; log:\n%s" % server.log()[-4000:]
    healthy.get_data("/")
    fresh = connect_with_retry(server.port)
    try:
        fresh.get_data("/")
    finally:
        fresh.close()
    healthy.get_data("/")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def healthy(server):
    """A session established before any bad input, kept for the whole module."""
    c = connect_with_retry(server.port, 30.0)   # ZooKeeper answers ruok before it serves sessions
    yield c
    c.close()


@pytest.fixture
def alive(server, healthy):
    healthy.get_data("/")
    yield
    assert_serving(server, healthy)


# --------------------------------------------------------------------------- framing

@pytest.mark.parametrize("phase", ["before_handshake", "after_handshake"])
@pytest.mark.parametrize("length", [-1, -2, -(2 ** 31)])
def test_negative_frame_length(server, alive, phase, length):
    # ZooKeeper: "Len error", connection closed, nothing sent.
    if phase == "after_handshake":
        c = Raw(server.port)
        s = c.sock
    else:
        s = open_socket(server.port)
    try:
        send_quietly(s, i32(length) + b"\0" * 16)
        assert read_until_closed(s) == b""
    finally:
        s.close()


@pytest.mark.parametrize("phase", ["before_handshake", "after_handshake"])
@pytest.mark.parametrize("length", [MAXBUFFER + 1, 64 * 1024 * 1024, 2 ** 31 - 1])
def test_frame_longer_than_maxbuffer(server, alive, phase, length):
    # Rejected on the length alone, before any payload arrives (and before allocating it):
    # ZooKeeper closes without a reply.
    if phase == "after_handshake":
        s = Raw(server.port).sock
    else:
        s = open_socket(server.port)
    try:
        send_quietly(s, i32(length) + b"\0" * 16)
        assert read_until_closed(s) == b""
    finally:
        s.close()


# ZooKeeper answers NONODE for a getData of a 1 MiB path (reads do not validate paths).
# zkd may bound path length (DESIGN.md section 6) and answer BADARGUMENTS instead; what
# matters here is that the frame is accepted and answered, not closed.
PADDED_PATH_ERRORS = (NONODE, BADARGUMENTS)


def _padded_get_data(xid, frame_len):
    """A getData request whose frame payload is exactly frame_len bytes (path padded)."""
    path_len = frame_len - 8 - 4 - 1
    return req(xid, OP_GETDATA, get_data_body(b"/" + b"a" * (path_len - 1)))


def test_frame_of_exactly_maxbuffer_is_accepted(server, alive):
    # The limit is inclusive: a frame of jute.maxbuffer bytes is decoded (ZooKeeper answers
    # NONODE for the 1 MiB path), and the connection stays usable.
    c = Raw(server.port)
    try:
        data = _padded_get_data(7, MAXBUFFER)
        assert len(data) == 4 + MAXBUFFER
        c.send(data)
        xid, _, err, body = c.reply()
        assert xid == 7 and err in PADDED_PATH_ERRORS and body == b""
        c.get_data("/")
    finally:
        c.close()


def test_lower_jute_maxbuffer_from_config(server_factory):
    # zkd reads jute.maxbuffer from zoo.cfg. DOC: ZooKeeper 3.8 does NOT: a zoo.cfg key
    # jute.maxbuffer becomes the system property zookeeper.jute.maxbuffer, which nothing
    # reads (observed: a 5000-byte frame is still accepted with jute.maxbuffer=4096 in
    # zoo.cfg). Only the JVM property -Djute.maxbuffer works: zkservers passes it to the
    # reference as -Djute.maxbuffer (JVM_PROPERTY_KEYS).
    limit = 4096
    srv = server_factory(cfg={"jute.maxbuffer": str(limit)})
    healthy = connect_with_retry(srv.port, 30.0)
    try:
        # exactly the limit: decoded and answered
        c = Raw(srv.port)
        c.send(_padded_get_data(3, limit))
        xid, _, err, _ = c.reply()
        assert xid == 3 and err in PADDED_PATH_ERRORS
        c.get_data("/")
        # one byte more: closed without a reply (the default limit would have accepted it)
        c.send(_padded_get_data(4, limit + 1))
        assert read_until_closed(c.sock) == b""
        c.sock.close()
        # same before the handshake
        s = open_socket(srv.port)
        send_quietly(s, i32(limit + 1) + b"\0" * 16)
        assert read_until_closed(s) == b""
        s.close()
        assert_serving(srv, healthy)
    finally:
        healthy.close()


@pytest.mark.parametrize("phase", ["before_handshake", "after_handshake"])
def test_zero_length_frame(server, alive, phase):
    # ZooKeeper: an empty payload cannot hold a ConnectRequest / RequestHeader, the decode
    # fails and the connection is closed without a reply (there is no xid to answer to).
    if phase == "after_handshake":
        s = Raw(server.port).sock
    else:
        s = open_socket(server.port)
    try:
        send_quietly(s, i32(0))
        assert read_until_closed(s) == b""
    finally:
        s.close()


@pytest.mark.parametrize("what", ["half_length_prefix", "pre_handshake_body",
                                  "connect_body", "request_body"])
def test_truncated_frame_then_close(server, alive, what):
    # Client vanishes in the middle of a frame: nothing to observe on that connection, the
    # server must just drop it (no crash, no leak, others unaffected).
    if what == "request_body":
        s = Raw(server.port).sock
        payload = req(1, OP_GETDATA, get_data_body("/"))[:-3]
    elif what == "half_length_prefix":
        s = open_socket(server.port)
        payload = b"\0\0"
    elif what == "connect_body":
        s = open_socket(server.port)
        payload = connect_request()[:20]
    else:
        s = open_socket(server.port)
        payload = i32(1000) + b"x" * 100
    s.sendall(payload)
    s.close()


def test_slowloris_does_not_block_others(server, alive, healthy):
    # Connections that stop in the middle of a frame must not stall anyone else; a request
    # that trickles in one byte at a time is reassembled and answered.
    held = []
    try:
        s = open_socket(server.port)
        s.sendall(b"\0\0")                                   # half a length prefix
        held.append(s)
        s = open_socket(server.port)
        s.sendall(connect_request()[:30])                    # partial ConnectRequest
        held.append(s)
        c = Raw(server.port)
        c.send(i32(1000) + b"\0\0\0")                        # partial request
        held.append(c.sock)
        c = Raw(server.port)
        c.send(i32(MAXBUFFER))                               # announces 1 MiB, sends nothing
        held.append(c.sock)

        # everyone else is still served while those are pending
        healthy.get_data("/")
        assert zkservers.four_letter(server.port, "srvr", timeout=IO_TIMEOUT).startswith(
            "Zookeeper version:")
        fresh = Raw(server.port)
        fresh.get_data("/")
        fresh.close()

        # byte-at-a-time request, interleaved with another client's traffic
        slow = Raw(server.port)
        slow.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        held.append(slow.sock)
        data = req(42, OP_GETDATA, get_data_body("/"))
        for i, b in enumerate(data):
            slow.send(bytes([b]))
            if i % 4 == 0:
                healthy.get_data("/")
        xid, _, err, body = slow.reply()
        assert (xid, err) == (42, OK)
        slow.get_data("/")
    finally:
        for s in held:
            s.close()


# --------------------------------------------------------------------------- handshake

@pytest.mark.parametrize("garbage", [
    b"\x01\x02\x03\x04garbage",                                     # length 16909060
    b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",                   # HTTP on the client port
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xaa" * 32,   # TLS ClientHello start
    b"\xff\xff\xff\xf0" + b"\0" * 40,                               # negative length
], ids=["binary", "http", "tls", "negative"])
def test_garbage_before_handshake(server, alive, garbage):
    # ZooKeeper reads the first 4 bytes as a frame length (or a 4lw code); none of these is
    # a valid length or a known word, so it closes without sending anything.
    s = open_socket(server.port)
    try:
        send_quietly(s, garbage)
        assert read_until_closed(s) == b""
    finally:
        s.close()


def _assert_no_session(buf):
    """Safe contract for a bogus but well-framed ConnectRequest: either nothing at all, or a
    ConnectResponse that establishes nothing (timeOut 0, sessionId 0, zero password)."""
    if buf == b"":
        return
    frames = split_frames(buf)
    assert len(frames) == 1, frames
    timeout, sid, passwd = parse_connect_response(frames[0])
    assert (timeout, sid, passwd) == (0, 0, b"\0" * 16), frames


def test_bogus_connect_request_all_ones(server, alive):
    # 45 bytes of 0xff: protocolVersion -1, lastZxidSeen -1, timeOut -1, sessionId -1,
    # passwd null (-1), readOnly true. ZooKeeper treats it as an attempt to resume the
    # unknown session -1: ConnectResponse{timeOut 0, sessionId 0, 16 zero bytes}, then
    # close. Refusing to decode a null password (close without a reply) is equally safe.
    s = open_socket(server.port)
    try:
        s.sendall(frame(b"\xff" * 45))
        _assert_no_session(read_until_closed(s))
    finally:
        s.close()


@pytest.mark.parametrize("seed", range(6))
def test_random_connect_request(server, alive, seed):
    # Random 45-byte ConnectRequest payloads with a non-zero sessionId: whatever the fields
    # say, no session may come out of it and the connection must be closed (ZooKeeper: an
    # invalid-session reply then close, or a plain close on an unreasonable passwd length or
    # a lastZxidSeen from the future).
    rnd = random.Random(seed)
    payload = bytearray(rnd.getrandbits(8) for _ in range(45))
    if payload[16:24] == b"\0" * 8:
        payload[23] = 1
    s = open_socket(server.port)
    try:
        s.sendall(frame(bytes(payload)))
        _assert_no_session(read_until_closed(s))
    finally:
        s.close()


def test_connect_request_without_read_only_byte(server, alive):
    # Positive control: a 44-byte ConnectRequest (go-zookeeper) is a valid handshake.
    # DOC: protocol.md 3.2 says the reply then omits the readOnly byte (36 bytes); ZooKeeper
    # 3.8.0 was observed to send 37 bytes anyway. Clients accept both, so both are allowed.
    s = open_socket(server.port)
    try:
        s.sendall(connect_request(read_only=None))
        timeout, sid, _ = parse_connect_response(recv_frame(s))
        assert timeout == 40000 and sid != 0
        s.sendall(req(1, OP_GETDATA, get_data_body("/")))
        assert parse_reply(recv_frame(s))[::2] == (1, OK)
    finally:
        s.close()


def test_resume_unknown_session(server, alive):
    # ZooKeeper: ConnectResponse{timeOut 0, sessionId 0, 16 zero bytes} ("expired"), then
    # close.
    s = open_socket(server.port)
    try:
        s.sendall(connect_request(session_id=0x0123456789ab, passwd=b"\x55" * 16))
        frames = split_frames(read_until_closed(s))
        assert len(frames) == 1, frames
        assert parse_connect_response(frames[0]) == (0, 0, b"\0" * 16)
    finally:
        s.close()


def test_resume_with_wrong_password(server, alive):
    # The impostor gets the "expired" answer and is closed; the session itself survives and
    # its owner can resume it with the right password. ZooKeeper 3.8 also closes the
    # owner's current connection before it checks the password (it detaches the session
    # from other connections first); keeping it is safer, so either is accepted for it.
    victim = Raw(server.port)
    s = open_socket(server.port)
    try:
        wrong = bytes(b ^ 0xff for b in victim.passwd)
        s.sendall(connect_request(session_id=victim.session_id, passwd=wrong))
        frames = split_frames(read_until_closed(s))
        assert len(frames) == 1, frames
        assert parse_connect_response(frames[0]) == (0, 0, b"\0" * 16)
        try:
            victim.get_data("/")            # still attached: fine
        except (Closed, OSError):
            pass                            # ZooKeeper's behaviour
        victim.sock.close()
        r = open_socket(server.port)
        try:
            r.sendall(connect_request(session_id=victim.session_id, passwd=victim.passwd))
            timeout, sid, passwd = parse_connect_response(recv_frame(r))
            assert (sid, passwd) == (victim.session_id, victim.passwd) and timeout > 0
            r.sendall(req(1, OP_GETDATA, get_data_body("/")))
            assert parse_reply(recv_frame(r))[::2] == (1, OK)
            r.sendall(req(2, OP_CLOSE))
            read_until_closed(r)
        finally:
            r.close()
    finally:
        s.close()
        victim.sock.close()


@pytest.mark.parametrize("request_bytes", [
    req(1, OP_GETDATA, get_data_body("/")),                       # 14 bytes: too short
    req(-2, OP_PING),                                              # 8 bytes
    req(1, OP_CREATE, create_body("/" + "a" * 40)),                # >= 45 bytes
], ids=["getData", "ping", "create"])
def test_request_before_handshake(server, alive, request_bytes):
    # ZooKeeper decodes the first frame as a ConnectRequest whatever it is. A short frame
    # fails to decode; a long one decodes with lastZxidSeen = (opcode << 32 | ...) which is
    # ahead of the server, so either way: closed, nothing sent, no session.
    s = open_socket(server.port)
    try:
        s.sendall(request_bytes)
        assert read_until_closed(s) == b""
    finally:
        s.close()


def test_second_connect_request(server, alive):
    # After the handshake a frame is a RequestHeader. ZooKeeper reads the second
    # ConnectRequest as xid = protocolVersion (0), opcode = high word of lastZxidSeen (0),
    # i.e. an unknown opcode: reply {xid 0, err UNIMPLEMENTED} with no body, then close.
    c = Raw(server.port)
    try:
        c.send(connect_request())
        frames = split_frames(read_until_closed(c.sock))
        assert [parse_reply(f)[::2] for f in frames] == [(0, UNIMPLEMENTED)]
        assert parse_reply(frames[0])[3] == b""
    finally:
        c.sock.close()


# --------------------------------------------------------------------------- requests

@pytest.mark.parametrize("opcode", [999, 10, 0, 23, 108, -12, -100, 2 ** 31 - 1])
def test_unknown_opcode(server, alive, opcode):
    # ZooKeeper: header-only reply with the request's xid and UNIMPLEMENTED (-6), then close.
    c = Raw(server.port)
    try:
        c.send(req(77, opcode, b"\0" * 12))
        frames = split_frames(read_until_closed(c.sock))
        assert len(frames) == 1, frames
        xid, _zxid, err, body = parse_reply(frames[0])
        assert (xid, err, body) == (77, UNIMPLEMENTED, b"")
    finally:
        c.sock.close()


def _expect_error_then_usable(port, op, body, expected_err):
    """Send one request; its reply carries expected_err (header only) and the same
    connection then answers a normal getData."""
    c = Raw(port)
    try:
        err, _ = c.call(op, body)
        if isinstance(expected_err, (tuple, list, set)):
            assert err in expected_err, "got %d, expected one of %s" % (err, expected_err)
        else:
            assert err == expected_err, "got %d, expected %d" % (err, expected_err)
        c.get_data("/")
    finally:
        c.close()


@pytest.mark.parametrize("op,body", [
    (OP_GETDATA, i32(100) + b"/ab"),                           # string longer than the frame
    (OP_GETDATA, ustr("/")),                                   # watch flag missing
    (OP_CREATE, ustr("/trunc") + ustr(b"") + WORLD_ALL),       # flags missing
    (OP_CREATE, ustr("/trunc") + ustr(b"") + i32(2) + acl(31, "world", "anyone") + i32(0)),
    (OP_SETDATA, ustr("/") + ustr(b"x")),                      # version missing
    (OP_EXISTS, b"\0\0"),                                       # inside the length prefix
], ids=["getData_strlen", "getData_no_watch", "create_no_flags", "create_acl_short",
        "setData_no_version", "exists_half_len"])
def test_record_truncated_inside_a_field(server, alive, op, body):
    # DOC/brief: ZooKeeper does not close here. The frame itself was complete, only the
    # record inside is short: it answers MARSHALLINGERROR (-5) for that xid and keeps
    # serving the connection. zkd must do the same (the frame boundary is intact, so the
    # stream is still in sync).
    _expect_error_then_usable(server.port, op, body, MARSHALLINGERROR)


@pytest.mark.parametrize("length", [-2, -1000, -(2 ** 31), 2 ** 31 - 1, 3 * 1048576, 5000])
def test_string_length_invalid(server, alive, length):
    # path length negative (other than -1 = null) or larger than what follows / the limit:
    # MARSHALLINGERROR, connection kept (ZooKeeper).
    _expect_error_then_usable(server.port, OP_GETDATA, i32(length) + b"/\0", MARSHALLINGERROR)


@pytest.mark.parametrize("length", [-2, -(2 ** 31), 2 ** 31 - 1, 1000])
def test_buffer_length_invalid_in_create(server, alive, healthy, length):
    _expect_error_then_usable(server.port, OP_CREATE,
                              ustr("/badbuf") + i32(length) + b"abc" + WORLD_ALL + i32(0),
                              MARSHALLINGERROR)
    assert healthy.exists("/badbuf") == NONODE


def test_vector_count_huge_in_acl(server, alive, healthy):
    body = ustr("/hugevec") + ustr(b"") + i32(2 ** 31 - 1) + acl(31, "world", "anyone") + i32(0)
    _expect_error_then_usable(server.port, OP_CREATE, body, MARSHALLINGERROR)
    assert healthy.exists("/hugevec") == NONODE


def test_vector_count_negative_in_acl(server, alive, healthy):
    # ZooKeeper's jute reader treats any negative count like an empty/null vector, so the
    # create fails ACL validation: INVALIDACL (-114). Rejecting the count at decode time
    # (MARSHALLINGERROR) is equally safe; both are accepted.
    body = ustr("/negvec") + ustr(b"") + i32(-2) + i32(0)
    _expect_error_then_usable(server.port, OP_CREATE, body, (INVALIDACL, MARSHALLINGERROR))
    assert healthy.exists("/negvec") == NONODE


def test_vector_count_huge_in_multi(server, alive, healthy):
    body = (multi_header(OP_CREATE) + ustr("/hugemulti") + ustr(b"") + i32(2 ** 31 - 1)
            + acl(31, "world", "anyone") + i32(0) + MULTI_END)
    _expect_error_then_usable(server.port, OP_MULTI, body, MARSHALLINGERROR)
    assert healthy.exists("/hugemulti") == NONODE


def test_vector_count_huge_in_setwatches(server, alive):
    body = i64(0) + i32(2 ** 31 - 1) + ustr("/")
    _expect_error_then_usable(server.port, OP_SETWATCHES, body, MARSHALLINGERROR)


def test_invalid_utf8_path(server, alive, healthy):
    # The Java server decodes malformed UTF-8 to U+FFFD, which path validation rejects:
    # create -> BADARGUMENTS. Reads do not validate paths: getData -> NONODE.
    bad = b"/bad\xff\xfeutf8"
    _expect_error_then_usable(server.port, OP_CREATE, create_body(bad), BADARGUMENTS)
    _expect_error_then_usable(server.port, OP_CREATE, create_body(b"/x\xc3"), BADARGUMENTS)
    _expect_error_then_usable(server.port, OP_CREATE, create_body(b"/\xed\xa0\x80"),
                              BADARGUMENTS)   # encoded surrogate
    _expect_error_then_usable(server.port, OP_GETDATA, get_data_body(bad), NONODE)


def test_embedded_nul_in_path(server, alive, healthy):
    _expect_error_then_usable(server.port, OP_CREATE, create_body(b"/a\0b"), BADARGUMENTS)
    _expect_error_then_usable(server.port, OP_CREATE2, create_body(b"/a\0b"), BADARGUMENTS)
    # exists rejects NUL explicitly; getData does not validate and simply finds nothing
    _expect_error_then_usable(server.port, OP_EXISTS, get_data_body(b"/a\0b"), BADARGUMENTS)
    _expect_error_then_usable(server.port, OP_GETDATA, get_data_body(b"/a\0b"), NONODE)
    assert healthy.exists("/a") == NONODE


def _mcreate(path):
    return multi_header(OP_CREATE) + create_body(path)


def _mgetdata(path):
    return multi_header(OP_GETDATA) + get_data_body(path)


@pytest.mark.parametrize("op,body", [
    (OP_MULTI, multi_header(OP_MULTI) + _mcreate("/mx_nested") + MULTI_END + MULTI_END),
    (OP_MULTI, _mcreate("/mx_mixed") + _mgetdata("/") + MULTI_END),
    (OP_MULTIREAD, _mgetdata("/") + _mcreate("/mx_mixed") + MULTI_END),
    (OP_MULTI, multi_header(99) + MULTI_END),
    (OP_MULTI, multi_header(OP_PING) + MULTI_END),
    (OP_MULTI, _mcreate("/mx_noend")),
], ids=["nested", "write_then_read", "multiread_with_write", "unknown_subop", "ping_subop",
        "no_terminator"])
def test_multi_malformed(server, alive, healthy, op, body):
    # ZooKeeper: the whole request fails to decode -> header err MARSHALLINGERROR, no body,
    # nothing applied, connection kept.
    _expect_error_then_usable(server.port, op, body, MARSHALLINGERROR)
    for p in ("/mx_nested", "/mx_mixed", "/mx_noend"):
        assert healthy.exists(p) == NONODE


def test_multi_empty_is_legal(server, alive):
    c = Raw(server.port)
    try:
        err, body = c.call(OP_MULTI, MULTI_END)
        assert err == OK and body == MULTI_END
    finally:
        c.close()


@pytest.mark.parametrize("xid", [-1, -2, -4, -8])
def test_client_sent_special_xid(server, alive, xid):
    # Special xids sent by a client with a getData opcode: ZooKeeper routes by opcode, so it
    # is an ordinary getData whose reply simply echoes the xid (even -1, the notification
    # xid; a real client would misread it, but the server does not care). Then a normal
    # request on the same connection is answered in order.
    c = Raw(server.port)
    try:
        c.send(req(xid, OP_GETDATA, get_data_body("/")))
        c.send(req(9, OP_GETDATA, get_data_body("/")))
        rxid, _, err, body = c.reply()
        assert (rxid, err) == (xid, OK)
        assert len(body) == 4 + 68
        rxid, _, err, _ = c.reply()
        assert (rxid, err) == (9, OK)
    finally:
        c.close()


def test_ping_with_ordinary_xid(server, alive):
    # DOC: protocol.md says the server echoes whatever xid it gets; ZooKeeper 3.8 answers a
    # ping (opcode 11) with xid -2 whatever the request's xid was. Both are harmless (every
    # client pings with -2), so both are accepted; the ping must not disturb what follows.
    c = Raw(server.port)
    try:
        c.send(req(7, OP_PING))
        c.send(req(8, OP_GETDATA, get_data_body("/")))
        rxid, _, err, body = c.reply()
        assert rxid in (-2, 7) and err == OK and body == b""
        assert c.reply()[::2] == (8, OK)
    finally:
        c.close()


@pytest.mark.parametrize("op,flags", [
    (OP_CREATE, 7), (OP_CREATE, -1), (OP_CREATE, 0x100), (OP_CREATE, 2 ** 31 - 1),
    (OP_CREATE, 5), (OP_CREATE, 6),       # TTL modes need opcode 21
    (OP_CREATE2, 7), (OP_CREATE2, -1),
])
def test_create_invalid_flags(server, alive, healthy, op, flags):
    _expect_error_then_usable(server.port, op, create_body("/badflags", flags=flags),
                              BADARGUMENTS)
    assert healthy.exists("/badflags") == NONODE


@pytest.mark.parametrize("acls", [
    acl_list(),                                            # empty list
    i32(-1),                                               # null list
    acl_list(acl(31, "nosuchscheme", "x")),                # unknown scheme
    acl_list(acl(31, "digest", "nocolon")),                # digest id must be user:hash
    acl_list(acl(31, "digest", "a:b:c")),                  # ... exactly two parts
    acl_list(acl(31, "ip", "999.1.2.3")),                  # not an address
    acl_list(acl(31, "ip", "not-an-ip")),
    acl_list(acl(31, "ip", "10.0.0.0/99")),                # bad prefix length
    acl_list(acl(31, "world", "someone")),                 # world only with anyone
    acl_list(acl(31, "auth", "")),                         # auth without any authenticated id
    acl_list(acl(31, "world", "anyone"), acl(31, "digest", "nocolon")),  # one bad entry
], ids=["empty", "null", "unknown_scheme", "digest_no_colon", "digest_three_parts",
        "ip_999", "ip_word", "ip_bad_prefix", "world_someone", "auth_unauthenticated",
        "mixed_good_bad"])
def test_invalid_acl(server, alive, healthy, acls):
    _expect_error_then_usable(server.port, OP_CREATE, create_body("/badacl", acls=acls),
                              INVALIDACL)
    assert healthy.exists("/badacl") == NONODE


@pytest.mark.parametrize("entry", [
    acl(31, "digest", "user:dGhpc2lzbm90YWhhc2g="),
    acl(31, "ip", "127.0.0.1"),
    acl(31, "ip", "10.0.0.0/8"),
], ids=["digest", "ip", "ip_cidr"])
def test_valid_acl_controls(server, alive, entry):
    # positive controls for the invalid-ACL cases: same shape, valid ids
    c = Raw(server.port)
    try:
        path = "/goodacl-%d" % random.getrandbits(32)
        err, body = c.call(OP_CREATE, create_body(path, acls=acl_list(entry)))
        assert err == OK and body == ustr(path)
    finally:
        c.close()


# --------------------------------------------------------------------------- abusive clients

def test_pipelining_without_reading_replies(server, alive, healthy):
    """A client sends thousands of requests and never reads. Others must keep being served
    while its replies pile up. The server may stop reading from it (backpressure) or drop
    it; if it answers, the answers must be complete and in order (ZooKeeper 3.8: buffers
    everything and answers all 40000, in order: about 85 MB of replies)."""
    setter = Raw(server.port)
    payload = b"p" * 2048
    err, _ = setter.call(OP_CREATE, create_body("/pipe", payload))
    assert err in (OK, -110)
    setter.close()

    n = 40000
    one = len(req(1, OP_GETDATA, get_data_body("/pipe")))
    stream = b"".join(req(i + 1, OP_GETDATA, get_data_body("/pipe")) for i in range(n))
    p = Raw(server.port)
    p.sock.setblocking(False)
    sent = 0
    stalled_since = None
    deadline = time.monotonic() + 15.0
    checks = 0
    closed = False
    while sent < len(stream) and time.monotonic() < deadline:
        _, w, _ = select.select([], [p.sock], [], 0.2)
        if w:
            try:
                k = p.sock.send(stream[sent:sent + 65536])
            except BlockingIOError:
                k = 0
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sent += k
            stalled_since = None if k else stalled_since
        else:
            # the server stopped reading from us: fine (backpressure), but others must
            # still be served; give up pushing after 2 s of no progress
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 2.0:
                break
        if sent // (one * 1000) > checks:
            checks = sent // (one * 1000)
            healthy.get_data("/")
    complete = sent // one
    assert complete >= 1000 or closed, "server accepted only %d requests" % complete

    # while this client's replies are unread, everybody else is fine
    assert_serving(server, healthy)
    assert zkservers.four_letter(server.port, "ruok", timeout=IO_TIMEOUT) == "imok"

    # now drain: a prefix of in-order answers, then either the rest or a close. Once the
    # client reads, a server that applied backpressure must resume at a sane rate
    # (ZooKeeper: all 40000 within ~3 s here); the healthy session is exercised meanwhile
    # (which also keeps it from expiring).
    p.sock.setblocking(True)
    got = 0
    dropped = False
    drain_deadline = time.monotonic() + 30.0
    next_check = time.monotonic() + 0.5
    try:
        while got < complete:
            xid, _, err, body = parse_reply(recv_frame(p.sock, IO_TIMEOUT))
            assert (xid, err) == (got + 1, OK), "reply %d out of order: xid %d err %d" % (
                got, xid, err)
            assert body[4:4 + len(payload)] == payload
            got += 1
            now = time.monotonic()
            assert now < drain_deadline, (
                "only %d of %d pipelined requests answered within 30 s of the client starting "
                "to read: the server neither keeps up nor drops the client" % (got, complete))
            if now > next_check:
                healthy.get_data("/")
                next_check = now + 0.5
    except Closed:
        dropped = True   # dropping a client that does not read is allowed
    p.sock.close()
    assert got == complete or dropped
    assert_serving(server, healthy)


def _srvr_connections(port):
    out = zkservers.four_letter(port, "srvr", timeout=IO_TIMEOUT)
    for line in out.splitlines():
        if line.startswith("Connections: "):
            return int(line.split(": ", 1)[1])
    raise AssertionError("no Connections: line in srvr output %r" % out)


def test_connection_churn(server, alive, healthy):
    """200 connections opened and closed quickly in different states, then a burst of 40
    concurrent handshakes: the server keeps serving and its connection count comes back
    down (no leaked connection objects)."""
    port = server.port
    baseline = _srvr_connections(port)
    for i in range(200):
        s = open_socket(port)
        kind = i % 5
        try:
            if kind == 1:                    # ConnectRequest sent, reply never read
                s.sendall(connect_request())
            elif kind == 2:                  # full handshake, then vanish (no closeSession)
                s.sendall(connect_request())
                recv_frame(s)
            elif kind == 3:                  # full handshake and a proper closeSession
                s.sendall(connect_request())
                recv_frame(s)
                s.sendall(req(1, OP_CLOSE))
                read_until_closed(s)
            elif kind == 4:                  # half a frame
                s.sendall(b"\0\0\0")
            # kind 0: connect and close without a byte
        finally:
            s.close()
    healthy.get_data("/")

    burst = []
    try:
        for _ in range(40):
            s = open_socket(port)
            s.sendall(connect_request())
            burst.append(s)
        for s in burst:
            timeout, sid, _ = parse_connect_response(recv_frame(s))
            assert timeout > 0 and sid != 0
    finally:
        for s in burst:
            s.close()

    # the count must return to (at most) where it was; poll, closes are asynchronous
    deadline = time.monotonic() + 15.0
    while True:
        now = _srvr_connections(port)
        if now <= baseline:
            break
        assert time.monotonic() < deadline, "Connections: %d, was %d before" % (now, baseline)
        time.sleep(0.1)   # polling interval


# --------------------------------------------------------------------------- shutdown

def test_zz_sigterm_exits_cleanly(server, healthy):
    """Last test of the module: after all the abuse, SIGTERM with a live session attached.
    For zkd, Server.stop raises unless the exit status is 0 (ASan/LSan: no leaks)."""
    healthy.get_data("/")
    rc = server.stop()
    if server.kind == "zkd":
        assert rc == 0
