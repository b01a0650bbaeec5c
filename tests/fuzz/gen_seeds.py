#!/usr/bin/env python3
"""Hand-built seed inputs for the zkd fuzz targets (tests/fuzz/corpus/<target>/seed-*)."""
import base64, hashlib, os, struct, sys

OUT = sys.argv[1] if len(sys.argv) > 1 else '/work/main/tests/fuzz/corpus'

def i32(v): return struct.pack('>i', v)
def i64(v): return struct.pack('>q', v)
def b(v): return b'\x01' if v else b'\x00'
def s(x):
    if x is None: return i32(-1)
    if isinstance(x, str): x = x.encode()
    return i32(len(x)) + x
def acl(entries):
    if entries is None: return i32(-1)
    return i32(len(entries)) + b''.join(i32(p) + s(sc) + s(i) for p, sc, i in entries)
OPEN = [(31, 'world', 'anyone')]
def digest(user_pw):
    u = user_pw.split(':', 1)[0]
    return u + ':' + base64.b64encode(hashlib.sha1(user_pw.encode()).digest()).decode()

# request bodies (protocol.md)
def create(path, data=b'', a=OPEN, flags=0, ttl=None):
    r = s(path) + s(data) + acl(a) + i32(flags)
    return r + (i64(ttl) if ttl is not None else b'')
def delete(path, version=-1): return s(path) + i32(version)
def set_data(path, data, version=-1): return s(path) + s(data) + i32(version)
def set_acl(path, a, version=-1): return s(path) + acl(a) + i32(version)
def check(path, version): return s(path) + i32(version)
def path_watch(path, watch=False): return s(path) + b(watch)
def path_only(path): return s(path)
def mh(t, done=False, err=-1): return i32(t) + b(done) + i32(err)
def multi(ops): return b''.join(mh(t) + body for t, body in ops) + mh(-1, True, -1)
def multi_read(ops): return b''.join(mh(t) + path_watch(p) for t, p in ops) + mh(-1, True, -1)
def vec_str(xs): return i32(len(xs)) + b''.join(s(x) for x in xs)
def set_watches(rel, data, exist, child, pers=None, rec=None):
    r = i64(rel) + vec_str(data) + vec_str(exist) + vec_str(child)
    if pers is not None: r += vec_str(pers) + vec_str(rec)
    return r
def add_watch(path, mode): return s(path) + i32(mode)
def watch_type(path, t): return s(path) + i32(t)
def auth(scheme, data): return i32(0) + s(scheme) + s(data)

CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN, SYNC = 1, 2, 3, 4, 5, 6, 7, 8, 9
PING, GET_CHILDREN2, CHECK, MULTI, CREATE2, RECONFIG, CHECK_WATCHES, REMOVE_WATCHES = 11, 12, 13, 14, 15, 16, 17, 18
CREATE_CONTAINER, DELETE_CONTAINER, CREATE_TTL, MULTI_READ, AUTH, SET_WATCHES, SASL = 19, 20, 21, 22, 100, 101, 102
GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER, SET_WATCHES2, ADD_WATCH, WHO_AM_I = 103, 104, 105, 106, 107
CREATE_SESSION, CLOSE_SESSION = -10, -11
SLOT1, INTERNAL, DEFER = 1, 2, 4

def step(op, body=b'', ctl=0):
    return bytes([ctl, op & 0xff]) + struct.pack('>H', len(body)) + body

def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)

# ---------------- fuzz_pipeline ----------------
P = 'pipeline'
write(P, 'crud', bytes([0]) + b''.join([
    step(CREATE, create('/a', b'hello')),
    step(CREATE2, create('/a/b', b'x' * 10)),
    step(GET_DATA, path_watch('/a', True)),
    step(GET_CHILDREN, path_watch('/a', True)),
    step(EXISTS, path_watch('/nope', True)),
    step(SET_DATA, set_data('/a', b'world', 0)),
    step(SET_DATA, set_data('/a', b'bad', 0)),          # BADVERSION
    step(GET_CHILDREN2, path_watch('/', False)),
    step(DELETE, delete('/a', -1)),                     # NOTEMPTY
    step(DELETE, delete('/a/b', 0)),
    step(DELETE, delete('/a', 1)),
    step(EXISTS, path_watch('/a', False)),
]))
write(P, 'ephemeral-sequential', bytes([0]) + b''.join([
    step(CREATE, create('/q', b'')),
    step(CREATE, create('/q/e', b'', flags=1)),
    step(CREATE, create('/q/s-', b'', flags=2)),
    step(CREATE, create('/q/s-', b'', flags=2), SLOT1),
    step(CREATE, create('/q/es-', b'', flags=3)),
    step(CREATE, create('/q/e/child', b'')),            # NOCHILDRENFOREPHEMERALS
    step(GET_EPHEMERALS, path_only('/q')),
    step(GET_EPHEMERALS, path_only(None), SLOT1),
    step(GET_ALL_CHILDREN_NUMBER, path_only('/q')),
    step(CLOSE_SESSION),
    step(CREATE, create('/q/after', b'')),              # SESSIONEXPIRED
    step(CREATE_SESSION, i32(6000)),
    step(CREATE, create('/q/e', b'', flags=1)),
    step(GET_CHILDREN, path_watch('/q', True), SLOT1),
]))
write(P, 'multi', bytes([0]) + b''.join([
    step(MULTI, multi([(CREATE, create('/m')), (CREATE, create('/m/x', b'1')),
                       (SET_DATA, set_data('/m', b'2', 0)), (CHECK, check('/m', 1)),
                       (CREATE2, create('/m/seq-', flags=2)), (DELETE, delete('/m/x', 0))])),
    step(MULTI, multi([(CREATE, create('/m/y')), (SET_DATA, set_data('/m', b'3', -1)),
                       (CREATE, create('/m/y')), (DELETE, delete('/m', -1))])),   # fails: rollback
    step(MULTI, multi([])),
    step(MULTI_READ, multi_read([(GET_DATA, '/m'), (GET_CHILDREN, '/m'), (GET_DATA, '/missing')])),
    step(MULTI, multi([(CHECK, check('/m', 5)), (CREATE, create('/m/z'))])),
    step(MULTI, mh(CREATE) + b'\x00\x00'),              # truncated: MARSHALLINGERROR
]))
write(P, 'pipelined', bytes([0]) + b''.join([
    step(CREATE, create('/p', b'0'), DEFER),
    step(CREATE, create('/p/q', b'', flags=1), DEFER),
    step(SET_DATA, set_data('/p', b'1', 0), DEFER),
    step(SET_DATA, set_data('/p', b'2', 1), DEFER),
    step(CREATE, create('/p/s', b'', flags=2), DEFER | SLOT1),
    step(DELETE, delete('/p/q', 0), DEFER),
    step(MULTI, multi([(CREATE, create('/p/q')), (CREATE, create('/p/q'))]), DEFER),  # rolls back
    step(CREATE, create('/p/q', flags=1), DEFER),
    step(MULTI, multi([(DELETE, delete('/p/q')), (CREATE, create('/p/r', flags=1)),
                       (CHECK, check('/p', 2))]), DEFER),
    step(CLOSE_SESSION, b'', DEFER),
    step(CLOSE_SESSION, b'', DEFER),
    step(CREATE, create('/p/late'), DEFER),
    step(GET_CHILDREN, path_watch('/p', True), DEFER | SLOT1),
    step(DELETE, delete('/p/s0000000002'), DEFER | SLOT1),
    step(GET_DATA, path_watch('/p', True), SLOT1),
]))
write(P, 'watches', bytes([0]) + b''.join([
    step(ADD_WATCH, add_watch('/w', 1)),
    step(ADD_WATCH, add_watch('/w', 0), SLOT1),
    step(SET_WATCHES, set_watches(0, ['/w'], ['/w/x'], ['/'])),
    step(SET_WATCHES2, set_watches(5, ['/zookeeper'], ['/w'], ['/w'], ['/w/p'], ['/'])),
    step(CREATE, create('/w')),
    step(CREATE, create('/w/x', b'd')),
    step(SET_DATA, set_data('/w/x', b'e')),
    step(CHECK_WATCHES, watch_type('/w', 5)),
    step(REMOVE_WATCHES, watch_type('/w', 3)),
    step(REMOVE_WATCHES, watch_type('/w', 4), SLOT1),
    step(CHECK_WATCHES, watch_type('/w', 1)),
    step(DELETE, delete('/w/x')),
    step(DELETE, delete('/w')),
    step(SET_WATCHES, set_watches(1000, ['/gone'], [], ['/gone'])),
]))
bob = digest('bob:pw')
write(P, 'acl-auth', bytes([0]) + b''.join([
    step(AUTH, auth('digest', b'bob:pw')),
    step(CREATE, create('/s', b'secret', [(31, 'digest', bob)])),
    step(CREATE, create('/s2', b'', [(31, 'auth', '')])),
    step(CREATE, create('/s3', b'', [(1, 'ip', '127.0.0.0/8'), (31, 'world', 'anyone')])),
    step(CREATE, create('/bad', b'', [(31, 'digest', 'nocolon')])),   # INVALIDACL
    step(CREATE, create('/bad', b'', [])),                              # INVALIDACL
    step(GET_DATA, path_watch('/s', True), SLOT1),                      # NOAUTH
    step(GET_ACL, path_only('/s'), SLOT1),
    step(GET_ACL, path_only('/s')),
    step(SET_ACL, set_acl('/s', [(1, 'world', 'anyone'), (31, 'digest', bob)], 0)),
    step(GET_DATA, path_watch('/s', True), SLOT1),
    step(SET_DATA, set_data('/s', b'x'), SLOT1),                        # NOAUTH
    step(AUTH, auth('digest', b'super:secret'), SLOT1),
    step(SET_DATA, set_data('/s', b'x'), SLOT1),
    step(DELETE, delete('/s'), SLOT1),
    step(AUTH, auth('ip', b'')),
    step(WHO_AM_I),
    step(WHO_AM_I, b'', SLOT1),
]))
write(P, 'containers-ttl', bytes([1]) + b''.join([
    step(CREATE_CONTAINER, create('/c')),
    step(CREATE, create('/c/child')),
    step(CREATE_TTL, create('/t', b'', flags=5, ttl=100)),
    step(CREATE_TTL, create('/t/s-', b'', flags=6, ttl=50)),
    step(CREATE_TTL, create('/t/bad', b'', flags=5, ttl=0)),    # BADARGUMENTS
    step(CREATE, create('/plain', b'', flags=4)),
    step(DELETE, delete('/c/child')),
    step(CREATE_CONTAINER, b'', INTERNAL),                       # reap
    step(PING, struct.pack('>H', 200), INTERNAL),                # tick 200 ms
    step(DELETE_CONTAINER, path_only('/t/s-0000000000'), INTERNAL),
    step(CREATE_CONTAINER, b'', INTERNAL),
    step(DELETE_CONTAINER, path_only('/plain'), INTERNAL),       # not a container
    step(MULTI, multi([(CREATE_CONTAINER, create('/mc')), (CREATE_TTL, create('/mt', flags=5, ttl=9))])),
]))
write(P, 'expiry', bytes([0]) + b''.join([
    step(CREATE, create('/x', b'', flags=1)),
    step(CREATE, create('/y', b'', flags=1), SLOT1),
    step(CREATE_SESSION, i32(4000), SLOT1),
    step(CREATE, create('/z', b'', flags=1), SLOT1),
    step(PING, struct.pack('>H', 5000), INTERNAL),
    step(PING),
    step(PING, struct.pack('>H', 30000), INTERNAL | DEFER),
    step(PING, struct.pack('>H', 30000), INTERNAL | DEFER),
    step(CREATE, create('/x2', b'', flags=1), DEFER),
    step(CLOSE_SESSION, b'', INTERNAL | SLOT1 | DEFER),
    step(GET_CHILDREN, path_watch('/', True)),
]))
write(P, 'misc', bytes([2]) + b''.join([
    step(RECONFIG, b'\x00' * 16),
    step(SASL, b'\x00\x00\x00\x00'),
    step(PING),
    step(SYNC, path_only('/')),
    step(GET_ALL_CHILDREN_NUMBER, path_only('')),
    step(CHECK, check('/', -1)),                 # stand-alone check: refused
    step(DELETE_CONTAINER, path_only('/')),      # client deleteContainer: refused
    step(DELETE, delete('/zookeeper')),          # BADARGUMENTS
    step(SET_DATA, set_data('/zookeeper/config', b'x')),
    step(CREATE, create('/a/../b')),
    step(CREATE, create('/\u00e9t\u00e9', b'')),
    step(CREATE, create('/nul\x00x', b'')),
    step(GET_DATA, path_watch('', False)),
]))
write(P, 'watch-kinds', bytes([8]) + b''.join([
    step(CREATE, create('/k')),
    step(ADD_WATCH, add_watch('/k', 1)),
    step(GET_DATA, path_watch('/k', True)),
    step(GET_CHILDREN, path_watch('/k', True)),
    step(ADD_WATCH, add_watch('/k', 0)),
    step(REMOVE_WATCHES, watch_type('/k', 5)),    # recursive off, others stay
    step(CHECK_WATCHES, watch_type('/k', 5)),
    step(CREATE, create('/k/c')),
    step(REMOVE_WATCHES, watch_type('/k', 2)),
    step(REMOVE_WATCHES, watch_type('/k', 4)),
    step(ADD_WATCH, add_watch('/k', 1), SLOT1),
    step(REMOVE_WATCHES, watch_type('/k', 3), SLOT1),
    step(SET_DATA, set_data('/k', b'z')),
    step(DELETE, delete('/k/c')),
]))
write(P, 'shutdown-outstanding', bytes([16 | 1]) + b''.join([
    step(CREATE, create('/o', b'', [(31, 'digest', bob)]), DEFER),
    step(AUTH, auth('digest', b'bob:pw'), DEFER),
    step(SET_ACL, set_acl('/o', [(31, 'auth', '')], -1), DEFER),
    step(CREATE_TTL, create('/o/t', b'', [(31, 'auth', '')], flags=5, ttl=1000), DEFER),
    step(MULTI, multi([(DELETE, delete('/o/t')), (CREATE, create('/o/t', flags=1))]), DEFER),
    step(CLOSE_SESSION, b'', DEFER),
]))
write(P, 'small-maxbuffer', bytes([4]) + b''.join([
    step(CREATE, create('/big', b'y' * 300)),
    step(CREATE, create('/ok', b'y' * 100)),
    step(GET_DATA, path_watch('/ok', False)),
]))

# ---------------- fuzz_txn ----------------
T = 'txn'
def hdr(t, client=0x1234, cxid=7, zxid=0x100000005, time=1700000000000):
    return struct.pack('>qiqqi', client, cxid, zxid, time, t)
def ctxn(path, data, a, eph, pcv, t=1, ttl=None):
    r = s(path) + s(data) + acl(a)
    if t in (1, 15): r += b(eph)
    r += i32(pcv)
    if t == 21: r += i64(ttl)
    return r
write(T, 'create', hdr(1) + ctxn('/a', b'data', OPEN, True, 3))
write(T, 'create2', hdr(15) + ctxn('/a/b', None, [(1, 'digest', bob), (31, 'ip', '10.0.0.0/8')], False, 0, 15))
write(T, 'create-container', hdr(19) + ctxn('/c', b'', OPEN, False, 1, 19))
write(T, 'create-ttl', hdr(21) + ctxn('/t', b'x', OPEN, False, 2, 21, 60000))
write(T, 'delete', hdr(2) + s('/a'))
write(T, 'delete-container', hdr(20) + s('/c'))
write(T, 'set-data', hdr(5) + s('/a') + s(b'new') + i32(4))
write(T, 'set-acl', hdr(7) + s('/a') + acl(OPEN) + i32(1))
write(T, 'check', hdr(13) + s('/a') + i32(2))
write(T, 'create-session', hdr(-10) + i32(30000))
write(T, 'close-session', hdr(-11) + vec_str(['/e1', '/q/e2']))
write(T, 'close-session-old', hdr(-11))
write(T, 'error', hdr(-1) + i32(-110))
def sub(t, body): return i32(t) + s(body)
write(T, 'multi', hdr(14) + i32(5) + sub(1, ctxn('/m', b'', OPEN, False, 1)) +
      sub(5, s('/m') + s(b'v') + i32(1)) + sub(13, s('/m') + i32(1)) + sub(2, s('/m')) +
      sub(-1, i32(0)))
write(T, 'multi-failed', hdr(14) + i32(2) + sub(-1, i32(0)) + sub(-1, i32(-101)))

# ---------------- fuzz_jute ----------------
J = 'jute'
script = bytes([0, 1, 2, 3, 4 | (7 << 3), 5 | (4 << 3), 6, 4 | (3 << 3), 2])
data = b'\x07\x01' + i32(0x01020304) + i64(-2) + s(b'abc') + i32(2) + i32(-1) + s(b'toolongforsixteen!') + i32(5)
write(J, 'all-reads', bytes([len(script)]) + script + data)
script2 = bytes([4 | (5 << 3), 4 | (5 << 3), 5 | (1 << 3), 2, 2])
write(J, 'null-and-errors', bytes([len(script2)]) + script2 + i32(-1) + i32(-2) + i32(0x7fffffff) + i32(1))
write(J, 'empty', b'')

# ---------------- fuzz_config ----------------
C = 'config'
write(C, 'zoo-sample', b"""# The number of milliseconds of each tick
tickTime=2000
initLimit=10
syncLimit=5
dataDir=/var/lib/zookeeper
clientPort=2181
#maxClientCnxns=60
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
""")
write(C, 'every-key', b"""tickTime=1000
clientPort=2181
clientPortAddress=127.0.0.1
dataDir=/tmp/zk
dataLogDir=/tmp/zklog
minSessionTimeout=2000
maxSessionTimeout=60000
maxClientCnxns=0
maxCnxns=100
globalOutstandingLimit=500
jute.maxbuffer=4194304
zookeeper.jute.maxbuffer=2048
4lw.commands.whitelist=ruok, srvr , mntr,*
extendedTypesEnabled=true
zookeeper.extendedTypesEnabled=no
reconfigEnabled=yes
DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
zookeeper.DigestAuthenticationProvider.superDigest=super:x
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=100
znode.container.maxNeverUsedIntervalMs=0
clientPortListenBacklog=-1
server.1=localhost:2888:3888
group.1=1
weight.1=1
standaloneEnabled=false
snapCount=1000
unknownKey=1
""")
write(C, 'bad-value', b"tickTime=2000\nclientPort=99999\ndataDir=/x\n")
write(C, 'bad-line', b"tickTime=2000\n  = nokey\n")
write(C, 'no-port', b"tickTime=2000\ndataDir=/x\n")
write(C, 'min-gt-max', b"clientPort=1\ndataDir=/x\nminSessionTimeout=50000\nmaxSessionTimeout=4000\n")
write(C, 'crlf-comments', b"! bang comment\r\n tickTime = 3000 \r\nclientPort=2181\r\ndataDir=/d\r\n")

# ---------------- fuzz_acl ----------------
A = 'acl'
def field(x):
    if isinstance(x, str): x = x.encode()
    return bytes([len(x)]) + x
write(A, 'world', bytes([0]) + field('10.0.0.0/8') + field('10.1.2.3') + field('bob:pw') + field('/a/b') + acl(OPEN))
write(A, 'digest-auth', bytes([2 | 16]) + field('::1') + field('::1') + field('bob:pw') + field('/zookeeper/quota') +
      acl([(31, 'digest', bob), (3, 'auth', ''), (31, 'digest', bob), (1, 'world', 'anyone')]))
write(A, 'ip-cidr', bytes([1]) + field('192.168.0.0/16') + field('192.168.7.9') + field('alice') + field('/') +
      acl([(1, 'ip', '192.168.0.0/16'), (2, 'ip', 'fe80::/10'), (4, 'ip', '1.2.3.4/33')]))
write(A, 'super', bytes([8 | 4]) + field('0.0.0.0/0') + field('8.8.8.8') + field('super:secret') + field('/a/./b') +
      acl([(31, 'digest', 'x:y'), (31, 'bogus', 'id')]))
write(A, 'null-entries', bytes([0]) + field('') + field('') + field('') + field('/\u00e9\ufff0'.encode()) +
      i32(2) + i32(31) + i32(-1) + i32(-1) + i32(1) + s('world') + s(None))
# ---------------- crash inputs (known bugs, minimal) ----------------
def crash(target, name, data):
    d = os.path.join(OUT, target)
    with open(os.path.join(d, 'crash-' + name), 'wb') as f:
        f.write(data)
# txn_decode accepts a null vector<ACL> (-1) in create/setACL; txn_encode
# (acl_encode) and apply (tree) assert on the NULL list.
crash(T, 'txn-null-acl', hdr(1) + s('/a') + s(None) + i32(-1) + b(False) + i32(1))
crash(T, 'txn-null-acl-setacl', hdr(7) + s('/a') + i32(-1) + i32(0))
# acl_digest(NULL, 0, ...): memchr/memcpy on NULL (UBSan), reached by an
# AuthPacket {scheme "digest", auth null} (server_auth passes data.p = NULL).
crash(A, 'acl-digest-null', bytes([32]) + field('') + field('') + field('') + field('/'))
crash(P, 'auth-digest-null', bytes([0]) + step(AUTH, auth('digest', None)))
print('seeds written to', OUT)
