"""zkwire — a small raw-protocol ZooKeeper client in pure Python (sockets + struct).

Written from ``shared/reference/protocol.md``. It speaks the bytes directly, never hides
what the server sent, and never raises for a server-side error: every operation returns a
:class:`Reply` whose ``err`` is the ReplyHeader error code (or one of the string sentinels
:data:`CLOSED` / :data:`TIMEOUT`) and whose ``body`` is the decoded reply record.

Quick tour::

    import zkwire
    c = zkwire.connect("127.0.0.1", port)                 # handshake; raises if no session
    err, body = c.create("/a", b"data")                   # Reply unpacks to (err, body)
    r = c.create2("/b", b"", flags=zkwire.EPHEMERAL)      # r.err, r.body.path, r.body.stat, r.zxid
    err, body = c.get_data("/a", watch=True)             # body = DataResult(data, stat), None on error
    c.set_data("/a", b"x")                                # own watch fires: the event is in c.events
    replies = c.pipeline([zkwire.ops.get_data("/a"),      # send many, then read the replies in order
                          zkwire.ops.set_data("/a", b"y")])
    c.raw(99)                                             # arbitrary opcode / payload
    c.close_session(); c.close()

Building blocks:

* :class:`ops` — request builders. ``ops.create(...)`` etc. return a :class:`Request`
  (opcode + encoded payload + reply decoder). They are also the sub-ops of
  :meth:`Client.multi` / :meth:`Client.multi_read`.
* :class:`Client` — one TCP connection. ``handshake()`` sends the ConnectRequest;
  ``call(req)``, ``send(req)``/``send_many(reqs)`` + ``recv()``, ``pipeline(reqs)``; one
  convenience method per builder in :class:`ops` (``c.create(...)`` = ``c.call(ops.create(...))``).
* Notifications (xid -1) never come back from ``recv()``: they are appended to
  ``Client.events`` as :class:`Event` (with the header zxid). ``Client.log`` keeps every frame
  received, replies and events, in arrival order: ``("reply", Reply)`` / ``("event", Event)``.

* Helpers: :func:`connect` (socket + handshake), :func:`wait_for_session` (poll until a fresh
  server grants sessions), :func:`digest_id` (the ACL id of ``user:password``),
  :func:`err_name`; constants for opcodes (``OP_*``), error codes (``NONODE``...), create
  modes, permissions, event types, WatcherTypes and addWatch modes.

Strings: ``str`` is sent as UTF-8; ``bytes`` are sent as-is (to send malformed UTF-8); ``None``
is sent as a null string/buffer/vector (length -1).
"""
import collections
import socket
import struct
import time

# --------------------------------------------------------------------------- constants

# Opcodes (ZooDefs.OpCode)
OP_NOTIFICATION = 0
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GET_DATA = 4
OP_SET_DATA = 5
OP_GET_ACL = 6
OP_SET_ACL = 7
OP_GET_CHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GET_CHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_RECONFIG = 16
OP_CHECK_WATCHES = 17
OP_REMOVE_WATCHES = 18
OP_CREATE_CONTAINER = 19
OP_DELETE_CONTAINER = 20
OP_CREATE_TTL = 21
OP_MULTI_READ = 22
OP_AUTH = 100
OP_SET_WATCHES = 101
OP_SASL = 102
OP_GET_EPHEMERALS = 103
OP_GET_ALL_CHILDREN_NUMBER = 104
OP_SET_WATCHES2 = 105
OP_ADD_WATCH = 106
OP_WHO_AM_I = 107
OP_CREATE_SESSION = -10
OP_CLOSE_SESSION = -11
OP_ERROR = -1

OP_NAMES = {v: k[3:].lower() for k, v in list(globals().items()) if k.startswith("OP_")}

# Special xids
XID_NOTIFICATION = -1
XID_PING = -2
XID_AUTH = -4
XID_SET_WATCHES = -8

# Error codes (KeeperException.Code)
OK = 0
SYSTEMERROR = -1
RUNTIMEINCONSISTENCY = -2
DATAINCONSISTENCY = -3
CONNECTIONLOSS = -4
MARSHALLINGERROR = -5
UNIMPLEMENTED = -6
OPERATIONTIMEOUT = -7
BADARGUMENTS = -8
UNKNOWNSESSION = -12
NEWCONFIGNOQUORUM = -13
RECONFIGINPROGRESS = -14
APIERROR = -100
NONODE = -101
NOAUTH = -102
BADVERSION = -103
NOCHILDRENFOREPHEMERALS = -108
NODEEXISTS = -110
NOTEMPTY = -111
SESSIONEXPIRED = -112
INVALIDCALLBACK = -113
INVALIDACL = -114
AUTHFAILED = -115
SESSIONMOVED = -118
NOTREADONLY = -119
EPHEMERALONLOCALSESSION = -120
NOWATCHER = -121
REQUESTTIMEOUT = -122
RECONFIGDISABLED = -123
SESSIONCLOSEDREQUIRESASLAUTH = -124
QUOTAEXCEEDED = -125
THROTTLEDOP = -127

_ERR_CONST_NAMES = ("OK SYSTEMERROR RUNTIMEINCONSISTENCY DATAINCONSISTENCY CONNECTIONLOSS "
                    "MARSHALLINGERROR UNIMPLEMENTED OPERATIONTIMEOUT BADARGUMENTS UNKNOWNSESSION "
                    "NEWCONFIGNOQUORUM RECONFIGINPROGRESS APIERROR NONODE NOAUTH BADVERSION "
                    "NOCHILDRENFOREPHEMERALS NODEEXISTS NOTEMPTY SESSIONEXPIRED INVALIDCALLBACK "
                    "INVALIDACL AUTHFAILED SESSIONMOVED NOTREADONLY EPHEMERALONLOCALSESSION "
                    "NOWATCHER REQUESTTIMEOUT RECONFIGDISABLED SESSIONCLOSEDREQUIRESASLAUTH "
                    "QUOTAEXCEEDED THROTTLEDOP").split()
ERR_NAMES = {globals()[n]: n for n in _ERR_CONST_NAMES}

# Client-side outcomes that are not server error codes (used in Reply.err).
CLOSED = "CLOSED"    #: the server closed the connection before this reply arrived
TIMEOUT = "TIMEOUT"  #: no reply within the read timeout (the connection stays usable)


def err_name(code):
    """Symbolic name of an error code (or the sentinel itself), e.g. -101 -> 'NONODE'."""
    if isinstance(code, str) or code is None:
        return code
    return ERR_NAMES.get(code, "ERR%d" % code)


# Create modes (flags of create requests; an enum, not a bit mask)
PERSISTENT = 0
EPHEMERAL = 1
PERSISTENT_SEQUENTIAL = 2
EPHEMERAL_SEQUENTIAL = 3
CONTAINER = 4
PERSISTENT_WITH_TTL = 5
PERSISTENT_SEQUENTIAL_WITH_TTL = 6

# Permission bits
PERM_READ = 1
PERM_WRITE = 2
PERM_CREATE = 4
PERM_DELETE = 8
PERM_ADMIN = 16
PERM_ALL = 31

# Watch event types / keeper state
EVENT_NONE = -1
EVENT_NODE_CREATED = 1
EVENT_NODE_DELETED = 2
EVENT_NODE_DATA_CHANGED = 3
EVENT_NODE_CHILDREN_CHANGED = 4
EVENT_NAMES = {-1: "None", 1: "NodeCreated", 2: "NodeDeleted", 3: "NodeDataChanged",
               4: "NodeChildrenChanged", 5: "DataWatchRemoved", 6: "ChildWatchRemoved",
               7: "PersistentWatchRemoved"}
STATE_SYNC_CONNECTED = 3

# WatcherType for checkWatches / removeWatches
WATCHER_CHILDREN = 1
WATCHER_DATA = 2
WATCHER_ANY = 3
WATCHER_PERSISTENT = 4
WATCHER_PERSISTENT_RECURSIVE = 5

# addWatch modes
ADD_WATCH_PERSISTENT = 0
ADD_WATCH_PERSISTENT_RECURSIVE = 1

# --------------------------------------------------------------------------- records

Stat = collections.namedtuple(
    "Stat", "czxid mzxid ctime mtime version cversion aversion ephemeralOwner "
            "dataLength numChildren pzxid")
ACL = collections.namedtuple("ACL", "perms scheme id")
ClientInfo = collections.namedtuple("ClientInfo", "scheme user")
Event = collections.namedtuple("Event", "type state path zxid")
Event.__doc__ = "A watch notification: WatcherEvent fields plus the ReplyHeader zxid."
ConnectResponse = collections.namedtuple(
    "ConnectResponse", "protocol_version timeout session_id passwd read_only length")
ConnectResponse.__doc__ = ("Decoded ConnectResponse. read_only is None when the server omitted "
                           "the byte; length is the payload length (36 or 37).")
CreateResult = collections.namedtuple("CreateResult", "path stat")
DataResult = collections.namedtuple("DataResult", "data stat")
ChildrenResult = collections.namedtuple("ChildrenResult", "children stat")
ACLResult = collections.namedtuple("ACLResult", "acl stat")
OpResult = collections.namedtuple("OpResult", "type err body")
OpResult.__doc__ = ("One multi/multiRead result: MultiHeader type and err, decoded body "
                    "(None for delete/check/errors).")

OPEN_ACL_UNSAFE = [ACL(PERM_ALL, "world", "anyone")]
READ_ACL_UNSAFE = [ACL(PERM_READ, "world", "anyone")]
CREATOR_ALL_ACL = [ACL(PERM_ALL, "auth", "")]


def digest_id(user, password):
    """The ACL id ZooKeeper's digest provider derives from user:password: user:base64(sha1)."""
    import base64
    import hashlib
    up = "%s:%s" % (user, password)
    return "%s:%s" % (user, base64.b64encode(hashlib.sha1(up.encode()).digest()).decode())


class ZKWireError(Exception):
    """Raised only for client-side misuse or by :func:`connect` when no session is granted."""


class DecodeError(Exception):
    """A reply body did not match the expected record layout."""


# --------------------------------------------------------------------------- encoding

def _enc_int(v):
    return struct.pack(">i", v)


def _enc_long(v):
    return struct.pack(">q", v)


def _enc_bool(v):
    return b"\x01" if v else b"\x00"


def _to_bytes(v):
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    return bytes(v)


def _enc_str(v):
    """jute ustring (also used for buffers): i32 length + bytes, None -> -1."""
    if v is None:
        return _enc_int(-1)
    b = _to_bytes(v)
    return _enc_int(len(b)) + b


_enc_buf = _enc_str


def _enc_vec(items, enc):
    if items is None:
        return _enc_int(-1)
    return _enc_int(len(items)) + b"".join(enc(i) for i in items)


def _enc_acl(a):
    perms, scheme, ident = a
    return _enc_int(perms) + _enc_str(scheme) + _enc_str(ident)


def _enc_acls(acl):
    return _enc_vec(acl, _enc_acl)


def _enc_strs(items):
    return _enc_vec(items, _enc_str)


class _Reader:
    """Cursor over a reply body."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def _take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise DecodeError("need %d bytes at offset %d, have %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def bool(self):
        return self._take(1) != b"\x00"

    def buf(self):
        n = self.int()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError("negative buffer length %d" % n)
        return self._take(n)

    def str(self):
        b = self.buf()
        return None if b is None else b.decode("utf-8", "backslashreplace")

    def vec(self, dec):
        n = self.int()
        if n == -1:
            return None
        if n < -1:
            raise DecodeError("negative vector length %d" % n)
        return [dec(self) for _ in range(n)]

    def stat(self):
        return Stat(*struct.unpack(">qqqqiiiqiiq", self._take(68)))

    def acl(self):
        return ACL(self.int(), self.str(), self.str())

    def remaining(self):
        return len(self.data) - self.pos

    def rest(self):
        b = self.data[self.pos:]
        self.pos = len(self.data)
        return b


# --------------------------------------------------------------------------- reply decoders

def _dec_none(r):
    return None


def _dec_path(r):
    return r.str()


def _dec_create2(r):
    return CreateResult(r.str(), r.stat())


def _dec_stat(r):
    return r.stat()


def _dec_data(r):
    return DataResult(r.buf(), r.stat())


def _dec_acl(r):
    return ACLResult(r.vec(_Reader.acl), r.stat())


def _dec_children(r):
    return r.vec(_Reader.str)


def _dec_children2(r):
    return ChildrenResult(r.vec(_Reader.str), r.stat())


def _dec_int(r):
    return r.int()


def _dec_buf(r):
    return r.buf()


def _dec_whoami(r):
    return r.vec(lambda rr: ClientInfo(rr.str(), rr.str()))


_MULTI_RESULT_DECODERS = {
    OP_CREATE: _dec_path,
    OP_CREATE2: _dec_create2,
    OP_CREATE_CONTAINER: _dec_create2,
    OP_CREATE_TTL: _dec_create2,
    OP_DELETE: _dec_none,
    OP_SET_DATA: _dec_stat,
    OP_CHECK: _dec_none,
    OP_GET_CHILDREN: _dec_children,
    OP_GET_DATA: _dec_data,
}


def _dec_multi(r):
    """Multi result framing: (MultiHeader + body)* up to the done=true terminator."""
    results = []
    while True:
        typ, done, err = r.int(), r.bool(), r.int()
        if done:
            break
        if typ == OP_ERROR:
            results.append(OpResult(typ, err, r.int()))
        else:
            dec = _MULTI_RESULT_DECODERS.get(typ)
            if dec is None:
                raise DecodeError("unknown multi result type %d" % typ)
            results.append(OpResult(typ, err, dec(r)))
    return results


# --------------------------------------------------------------------------- requests

class Request:
    """One request: opcode, encoded record (without RequestHeader) and reply decoder.

    xid: None lets the client assign the next ordinary xid; set it to force a special one.
    decode_errors: decode a body even when the header err is non-zero (sasl).
    tag: free for the caller (e.g. a test label); zkwire never reads it.
    """

    __slots__ = ("opcode", "payload", "decoder", "xid", "name", "args", "decode_errors", "tag")

    def __init__(self, opcode, payload=b"", decoder=None, xid=None, name=None, args=None,
                 decode_errors=False):
        self.opcode = opcode
        self.payload = payload
        self.decoder = decoder
        self.xid = xid
        self.name = name or OP_NAMES.get(opcode, "op%d" % opcode)
        self.args = args if args is not None else {}
        self.decode_errors = decode_errors
        self.tag = None

    def __repr__(self):
        return "Request(%s %r)" % (self.name, self.args)


def _create_payload(path, data, acl, flags):
    return _enc_str(path) + _enc_buf(data) + _enc_acls(acl) + _enc_int(flags)


class ops:
    """Request builders, one per opcode. Each returns a :class:`Request`."""

    @staticmethod
    def create(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=PERSISTENT):
        """create (1): reply body = created path (str)."""
        return Request(OP_CREATE, _create_payload(path, data, acl, flags), _dec_path,
                       args=dict(path=path, data=data, acl=acl, flags=flags))

    @staticmethod
    def create2(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=PERSISTENT):
        """create2 (15): reply body = CreateResult(path, stat)."""
        return Request(OP_CREATE2, _create_payload(path, data, acl, flags), _dec_create2,
                       args=dict(path=path, data=data, acl=acl, flags=flags))

    @staticmethod
    def create_container(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=CONTAINER):
        """createContainer (19): reply body = CreateResult(path, stat)."""
        return Request(OP_CREATE_CONTAINER, _create_payload(path, data, acl, flags), _dec_create2,
                       args=dict(path=path, data=data, acl=acl, flags=flags))

    @staticmethod
    def create_ttl(path, data=b"", acl=OPEN_ACL_UNSAFE, flags=PERSISTENT_WITH_TTL, ttl=60000):
        """createTTL (21): reply body = CreateResult(path, stat)."""
        return Request(OP_CREATE_TTL, _create_payload(path, data, acl, flags) + _enc_long(ttl),
                       _dec_create2, args=dict(path=path, data=data, acl=acl, flags=flags, ttl=ttl))

    @staticmethod
    def delete(path, version=-1):
        """delete (2): no reply body."""
        return Request(OP_DELETE, _enc_str(path) + _enc_int(version), _dec_none,
                       args=dict(path=path, version=version))

    @staticmethod
    def exists(path, watch=False):
        """exists (3): reply body = Stat."""
        return Request(OP_EXISTS, _enc_str(path) + _enc_bool(watch), _dec_stat,
                       args=dict(path=path, watch=watch))

    @staticmethod
    def get_data(path, watch=False):
        """getData (4): reply body = DataResult(data, stat); data None = null buffer."""
        return Request(OP_GET_DATA, _enc_str(path) + _enc_bool(watch), _dec_data,
                       args=dict(path=path, watch=watch))

    @staticmethod
    def set_data(path, data, version=-1):
        """setData (5): reply body = Stat (after the update)."""
        return Request(OP_SET_DATA, _enc_str(path) + _enc_buf(data) + _enc_int(version), _dec_stat,
                       args=dict(path=path, data=data, version=version))

    @staticmethod
    def get_acl(path):
        """getACL (6): reply body = ACLResult(acl list, stat)."""
        return Request(OP_GET_ACL, _enc_str(path), _dec_acl, args=dict(path=path))

    @staticmethod
    def set_acl(path, acl, version=-1):
        """setACL (7): version is compared with aversion; reply body = Stat."""
        return Request(OP_SET_ACL, _enc_str(path) + _enc_acls(acl) + _enc_int(version), _dec_stat,
                       args=dict(path=path, acl=acl, version=version))

    @staticmethod
    def get_children(path, watch=False):
        """getChildren (8): reply body = list of names (server order)."""
        return Request(OP_GET_CHILDREN, _enc_str(path) + _enc_bool(watch), _dec_children,
                       args=dict(path=path, watch=watch))

    @staticmethod
    def get_children2(path, watch=False):
        """getChildren2 (12): reply body = ChildrenResult(names, stat of the listed node)."""
        return Request(OP_GET_CHILDREN2, _enc_str(path) + _enc_bool(watch), _dec_children2,
                       args=dict(path=path, watch=watch))

    @staticmethod
    def sync(path):
        """sync (9): reply body = echoed path."""
        return Request(OP_SYNC, _enc_str(path), _dec_path, args=dict(path=path))

    @staticmethod
    def ping(xid=XID_PING):
        """ping (11): no body either way; xid -2 by default."""
        return Request(OP_PING, b"", _dec_none, xid=xid)

    @staticmethod
    def check(path, version):
        """check (13): CheckVersionRequest; meant for multi (stand-alone use is legacy)."""
        return Request(OP_CHECK, _enc_str(path) + _enc_int(version), _dec_none,
                       args=dict(path=path, version=version))

    @staticmethod
    def _multi_payload(sub_ops):
        out = []
        for op in sub_ops:
            out.append(_enc_int(op.opcode) + _enc_bool(False) + _enc_int(-1) + op.payload)
        out.append(_enc_int(-1) + _enc_bool(True) + _enc_int(-1))
        return b"".join(out)

    @staticmethod
    def multi(sub_ops):
        """multi (14): sub_ops are Requests from create*/delete/set_data/check.
        Reply body = list of OpResult (terminator not included)."""
        return Request(OP_MULTI, ops._multi_payload(sub_ops), _dec_multi,
                       args=dict(ops=[(o.name, o.args) for o in sub_ops]))

    @staticmethod
    def multi_read(sub_ops):
        """multiRead (22): sub_ops are get_children/get_data Requests. Body = list of OpResult."""
        return Request(OP_MULTI_READ, ops._multi_payload(sub_ops), _dec_multi,
                       args=dict(ops=[(o.name, o.args) for o in sub_ops]))

    @staticmethod
    def reconfig(joining=None, leaving=None, new_members=None, cur_config_id=-1):
        """reconfig (16): reply body = DataResult(config text, stat of /zookeeper/config)."""
        return Request(OP_RECONFIG, _enc_str(joining) + _enc_str(leaving) + _enc_str(new_members)
                       + _enc_long(cur_config_id), _dec_data,
                       args=dict(joining=joining, leaving=leaving, new_members=new_members,
                                 cur_config_id=cur_config_id))

    @staticmethod
    def check_watches(path, type=WATCHER_ANY):
        """checkWatches (17): no body; NOWATCHER if the connection has no such watch."""
        return Request(OP_CHECK_WATCHES, _enc_str(path) + _enc_int(type), _dec_none,
                       args=dict(path=path, type=type))

    @staticmethod
    def remove_watches(path, type=WATCHER_ANY):
        """removeWatches (18): no body; NOWATCHER if the connection has no such watch."""
        return Request(OP_REMOVE_WATCHES, _enc_str(path) + _enc_int(type), _dec_none,
                       args=dict(path=path, type=type))

    @staticmethod
    def delete_container(path):
        """deleteContainer (20): server-internal opcode; payload is `buf path`."""
        return Request(OP_DELETE_CONTAINER, _enc_buf(path), _dec_none, args=dict(path=path))

    @staticmethod
    def auth(scheme, auth, type=0, xid=XID_AUTH):
        """auth (100): AuthPacket{type, scheme, auth}; xid -4 like the Java/C clients."""
        return Request(OP_AUTH, _enc_int(type) + _enc_str(scheme) + _enc_buf(auth), _dec_none,
                       xid=xid, args=dict(scheme=scheme, auth=auth))

    @staticmethod
    def set_watches(relative_zxid, data=(), exist=(), child=(), xid=None):
        """setWatches (101): catch-up events arrive before the (empty) reply."""
        p = (_enc_long(relative_zxid) + _enc_strs(_lst(data)) + _enc_strs(_lst(exist))
             + _enc_strs(_lst(child)))
        return Request(OP_SET_WATCHES, p, _dec_none, xid=xid,
                       args=dict(relative_zxid=relative_zxid, data=data, exist=exist, child=child))

    @staticmethod
    def set_watches2(relative_zxid, data=(), exist=(), child=(), persistent=(), recursive=(),
                     xid=None):
        """setWatches2 (105): setWatches plus persistent and persistent-recursive lists."""
        p = (_enc_long(relative_zxid) + _enc_strs(_lst(data)) + _enc_strs(_lst(exist))
             + _enc_strs(_lst(child)) + _enc_strs(_lst(persistent)) + _enc_strs(_lst(recursive)))
        return Request(OP_SET_WATCHES2, p, _dec_none, xid=xid,
                       args=dict(relative_zxid=relative_zxid, data=data, exist=exist, child=child,
                                 persistent=persistent, recursive=recursive))

    @staticmethod
    def sasl(token):
        """sasl (102): GetSASLRequest{buf token}; reply SetSASLResponse{buf token}, which
        ZooKeeper also sends with an error header."""
        return Request(OP_SASL, _enc_buf(token), _dec_buf, args=dict(token=token),
                       decode_errors=True)

    @staticmethod
    def get_ephemerals(prefix):
        """getEphemerals (103): the calling session's ephemerals under a string prefix."""
        return Request(OP_GET_EPHEMERALS, _enc_str(prefix), _dec_children, args=dict(prefix=prefix))

    @staticmethod
    def get_all_children_number(path):
        """getAllChildrenNumber (104): reply body = int (all descendants)."""
        return Request(OP_GET_ALL_CHILDREN_NUMBER, _enc_str(path), _dec_int, args=dict(path=path))

    @staticmethod
    def add_watch(path, mode=ADD_WATCH_PERSISTENT):
        """addWatch (106): mode 0 persistent, 1 persistent-recursive; reply body = int 0."""
        return Request(OP_ADD_WATCH, _enc_str(path) + _enc_int(mode), _dec_int,
                       args=dict(path=path, mode=mode))

    @staticmethod
    def who_am_i():
        """whoAmI (107): reply body = list of ClientInfo(scheme, user)."""
        return Request(OP_WHO_AM_I, b"", _dec_whoami)

    @staticmethod
    def close_session():
        """closeSession (-11): empty reply, then the server closes the socket."""
        return Request(OP_CLOSE_SESSION, b"", _dec_none)

    @staticmethod
    def raw(opcode, payload=b"", decoder=None, xid=None):
        """Any opcode with any payload bytes; body = remaining bytes unless a decoder is given."""
        return Request(opcode, bytes(payload), decoder, xid=xid, name="raw",
                       args=dict(opcode=opcode, payload=bytes(payload).hex()))


def _lst(x):
    return None if x is None else list(x)


# --------------------------------------------------------------------------- replies

class Reply:
    """One reply. Unpacks as ``err, body = reply``.

    err:      ReplyHeader err (int), or CLOSED / TIMEOUT (str) when no reply arrived.
    body:     decoded record (None on error, for bodiless replies, or when decoding failed).
    zxid:     ReplyHeader zxid (None if no reply).
    xid:      ReplyHeader xid (None if no reply).
    request:  the Request this reply was matched to (by xid), or None.
    extra:    bytes left over after decoding (b"" normally; the whole body when undecoded).
    decode_error: message when the body did not match the expected layout.
    """

    __slots__ = ("err", "body", "zxid", "xid", "request", "extra", "decode_error")

    def __init__(self, err, body=None, zxid=None, xid=None, request=None, extra=b"",
                 decode_error=None):
        self.err = err
        self.body = body
        self.zxid = zxid
        self.xid = xid
        self.request = request
        self.extra = extra
        self.decode_error = decode_error

    def __iter__(self):
        return iter((self.err, self.body))

    @property
    def ok(self):
        return self.err == OK

    def __repr__(self):
        op = self.request.name if self.request else "?"
        return "Reply(%s xid=%s zxid=%s err=%s body=%r%s%s)" % (
            op, self.xid, self.zxid, err_name(self.err), self.body,
            " extra=%s" % self.extra.hex() if self.extra else "",
            " decode_error=%s" % self.decode_error if self.decode_error else "")


# --------------------------------------------------------------------------- client

class Client:
    """One TCP connection to a ZooKeeper-protocol server.

    Construct, then :meth:`handshake` (or use :func:`connect`). ``timeout`` is the default
    wait (seconds) for a reply. Attributes after a handshake: ``session_id``, ``passwd``,
    ``negotiated_timeout``, ``connect_response``. ``last_zxid`` is the highest ReplyHeader
    zxid seen (for setWatches / reconnects). ``events`` holds notifications, ``log`` every
    received frame in arrival order, ``closed`` becomes True once the peer closed.
    """

    def __init__(self, host, port, timeout=10.0):
        self.host, self.port = host, port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._buf = bytearray()
        self._next_xid = 1
        self._pending = []            # [(xid, Request)] in send order
        self.events = []              # Event, in arrival order
        self.log = []                 # ("reply", Reply) | ("event", Event), arrival order
        self.unmatched = []           # replies whose xid matched no pending request
        self.closed = False
        self.session_id = None
        self.passwd = None
        self.negotiated_timeout = None
        self.connect_response = None
        self.last_zxid = 0

    # ---- low level I/O

    def send_bytes(self, data):
        """Write raw bytes (no framing added). Returns False if the socket is already dead."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            self.closed = True
            return False

    def send_frame(self, payload):
        """Write one length-prefixed frame."""
        return self.send_bytes(_enc_int(len(payload)) + payload)

    def _fill(self, n, deadline):
        """Read until the buffer has n bytes. Returns True, or CLOSED / TIMEOUT."""
        while len(self._buf) < n:
            if self.closed:
                return CLOSED
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return TIMEOUT
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return TIMEOUT
            except OSError:
                self.closed = True
                return CLOSED
            if not chunk:
                self.closed = True
                return CLOSED
            self._buf += chunk
        return True

    def read_frame(self, timeout=None):
        """Next frame payload (bytes), or CLOSED / TIMEOUT (a partial frame stays buffered)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        st = self._fill(4, deadline)
        if st is not True:
            return st
        n = struct.unpack(">i", bytes(self._buf[:4]))[0]
        if n < 0:
            raise DecodeError("negative frame length %d" % n)
        st = self._fill(4 + n, deadline)
        if st is not True:
            return st
        payload = bytes(self._buf[4:4 + n])
        del self._buf[:4 + n]
        return payload

    # ---- handshake

    def handshake(self, timeout_ms=30000, session_id=0, passwd=None, last_zxid=0,
                  read_only=False, protocol_version=0, send_read_only=True, wait=None):
        """Send a ConnectRequest (45 bytes, or 44 with send_read_only=False) and read the
        ConnectResponse. Returns a :class:`ConnectResponse`, or None if the server closed the
        connection (or sent nothing within ``wait`` seconds) without answering."""
        if passwd is None:
            passwd = b"\x00" * 16
        p = (_enc_int(protocol_version) + _enc_long(last_zxid) + _enc_int(timeout_ms)
             + _enc_long(session_id) + _enc_buf(passwd))
        if send_read_only:
            p += _enc_bool(read_only)
        self.send_frame(p)
        frame = self.read_frame(wait)
        if isinstance(frame, str):
            return None
        r = _Reader(frame)
        resp = ConnectResponse(r.int(), r.int(), r.long(), r.buf(),
                               r.bool() if r.remaining() >= 1 else None, len(frame))
        self.connect_response = resp
        self.session_id = resp.session_id
        self.passwd = resp.passwd
        self.negotiated_timeout = resp.timeout
        return resp

    # ---- requests

    def send(self, req):
        """Send one request without waiting; returns the xid used."""
        return self.send_many([req])[0]

    def send_many(self, reqs):
        """Send several requests in one write (true pipelining); returns their xids."""
        out, xids = [], []
        for req in reqs:
            if req.xid is not None:
                xid = req.xid
            else:
                xid = self._next_xid
                self._next_xid += 1
            body = _enc_int(xid) + _enc_int(req.opcode) + req.payload
            out.append(_enc_int(len(body)) + body)
            self._pending.append((xid, req))
            xids.append(xid)
        self.send_bytes(b"".join(out))
        return xids

    def _match(self, xid):
        for i, (pxid, req) in enumerate(self._pending):
            if pxid == xid:
                del self._pending[i]
                return req
        if xid == XID_PING:
            # ZooKeeper answers every ping with xid -2, whatever xid the ping carried
            for i, (pxid, req) in enumerate(self._pending):
                if req.opcode == OP_PING:
                    del self._pending[i]
                    return req
        return None

    def _decode_reply(self, frame):
        r = _Reader(frame)
        xid, zxid, err = r.int(), r.long(), r.int()
        if xid == XID_NOTIFICATION:
            ev = Event(r.int(), r.int(), r.str(), zxid)
            return ev
        if zxid > self.last_zxid:
            self.last_zxid = zxid
        req = self._match(xid)
        reply = Reply(err, None, zxid, xid, req)
        dec = req.decoder if req is not None else None
        if dec is not None and (err == OK or (req.decode_errors and r.remaining() > 0)):
            start = r.pos
            try:
                reply.body = dec(r)
            except DecodeError as e:
                reply.decode_error = str(e)
                r.pos = start
        reply.extra = r.rest()
        return reply

    def recv(self, timeout=None):
        """Next reply (notifications are diverted to ``events``). On close or timeout returns a
        Reply with err CLOSED / TIMEOUT, matched to the oldest outstanding request."""
        while True:
            frame = self.read_frame(timeout)
            if isinstance(frame, str):
                req = self._pending.pop(0)[1] if (self._pending and frame == CLOSED) else (
                    self._pending[0][1] if self._pending else None)
                return Reply(frame, request=req)
            item = self._decode_reply(frame)
            if isinstance(item, Event):
                self.events.append(item)
                self.log.append(("event", item))
                continue
            self.log.append(("reply", item))
            if item.request is None:
                self.unmatched.append(item)
            return item

    def call(self, req, timeout=None):
        """Send one request and return its Reply (see :meth:`recv`)."""
        self.send(req)
        return self.recv(timeout)

    def pipeline(self, reqs, timeout=None):
        """Send all requests at once, then read exactly len(reqs) replies in arrival order."""
        self.send_many(reqs)
        return [self.recv(timeout) for _ in reqs]

    def poll(self, timeout=0.2):
        """Read whatever arrives within ``timeout`` seconds (events and stray replies).
        Returns the list of ("event"|"reply", item) read; stops early if the peer closes."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            frame = self.read_frame(remaining)
            if isinstance(frame, str):
                break
            item = self._decode_reply(frame)
            if isinstance(item, Event):
                self.events.append(item)
                entry = ("event", item)
            else:
                if item.request is None:
                    self.unmatched.append(item)
                entry = ("reply", item)
            self.log.append(entry)
            got.append(entry)
        return got

    def wait_closed(self, timeout=2.0):
        """True if the server closes the connection within ``timeout`` seconds (frames that
        arrive meanwhile are logged as by :meth:`poll`)."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.poll(min(remaining, 0.1))
        return True

    def take_events(self):
        """Return and clear the collected notifications."""
        ev, self.events = self.events, []
        return ev

    def close(self):
        """Close the socket (no closeSession is sent)."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _make_call(name, builder):
    def method(self, *a, timeout=None, **kw):
        return self.call(builder(*a, **kw), timeout=timeout)
    method.__name__ = name
    method.__doc__ = "call(ops.%s(...)) -- %s" % (name, builder.__doc__ or "")
    return method


def _make_send(name, builder):
    def method(self, *a, **kw):
        return self.send(builder(*a, **kw))
    method.__name__ = "send_" + name
    method.__doc__ = "send(ops.%s(...)) without waiting; returns the xid." % name
    return method


for _name in [n for n in vars(ops) if not n.startswith("_")]:
    _builder = getattr(ops, _name)
    setattr(Client, _name, _make_call(_name, _builder))
    setattr(Client, "send_" + _name, _make_send(_name, _builder))
del _name, _builder


def connect(host, port, timeout_ms=30000, timeout=10.0, **handshake_kw):
    """Open a connection and complete the handshake. Raises ZKWireError if the server closes
    the connection or grants no session (timeout 0)."""
    c = Client(host, port, timeout=timeout)
    resp = c.handshake(timeout_ms=timeout_ms, **handshake_kw)
    if resp is None:
        c.close()
        raise ZKWireError("server closed the connection during the handshake")
    if resp.timeout <= 0 or resp.session_id == 0:
        c.close()
        raise ZKWireError("session refused/expired: %r" % (resp,))
    return c


def wait_for_session(host, port, timeout=30.0, session_timeout_ms=10000):
    """Retry until the server grants a session (ZooKeeper answers ``ruok`` before it accepts
    sessions); the probe session is closed with closeSession. Raises ZKWireError on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            c = Client(host, port, timeout=2.0)
            try:
                resp = c.handshake(timeout_ms=session_timeout_ms, wait=2.0)
                if resp is not None and resp.session_id and resp.timeout > 0:
                    c.call(ops.close_session(), timeout=2.0)
                    return
                last = "handshake refused: %r" % (resp,)
            finally:
                c.close()
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise ZKWireError("no session from %s:%d within %.0fs (%s)" % (host, port, timeout, last))
