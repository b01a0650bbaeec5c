"""Four-letter words on the client port: formats line by line (as Apache ZooKeeper 3.8
prints them in standalone mode), what they report about real client activity, and the
4lw.commands.whitelist.

Validated with ZK_TARGET=zookeeper. Formats are asserted structurally (regexes), not byte
for byte: numbers, addresses and version strings vary. Observed ZooKeeper behaviour that
disagrees with /work/shared/reference/features.md section 9 is marked "DOC:".
"""
import os
import re
import socket
import struct
import sys
import time

import pytest
from kazoo.client import KazooClient

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkservers  # noqa: E402

FOUR_LETTER = zkservers.four_letter    # kept: one test temporarily patches the module's
IO_TIMEOUT = 10.0

NUM = r"-?\d+(?:\.\d+)?"
HEX = r"0x[0-9a-f]+"

SRVR_LINES = [
    r"Zookeeper version: \S.*",
    r"Latency min/avg/max: \d+/\d+(?:\.\d+)?/\d+",
    r"Received: \d+",
    r"Sent: \d+",
    r"Connections: \d+",
    r"Outstanding: \d+",
    r"Zxid: 0x[0-9a-f]+",
    r"Mode: standalone",
    r"Node count: \d+",
]

# one line per connection in stat / cons. A connection that has not finished its handshake
# (ZooKeeper lists the 4lw connection itself) has only the first three counters.
# ZooKeeper prints "null" instead of "/ip:port" for a connection it is tearing down at that
# moment (seen under connection churn: " null[0](queued=0,recved=1,sent=1)"); tolerated.
ADDR = r" (?:/(?P<ip>[0-9.]+):(?P<port>\d+)|null)"
CONN_BRIEF = ADDR + r"\[\d+\]\(queued=\d+,recved=(?P<recved>\d+),sent=(?P<sent>\d+)\)"
CONN_FULL = (ADDR + r"\[\d+\]\(queued=\d+,recved=(?P<recved>\d+),"
             r"sent=(?P<sent>\d+)(?:,sid=(?P<sid>0x[0-9a-f]+),lop=\w+,est=\d+,to=(?P<to>\d+)"
             r"(?:,lcxid=0x[0-9a-f]+)?,lzxid=0x[0-9a-f]+,lresp=-?\d+,llat=\d+,minlat=\d+,"
             r"avglat=\d+,maxlat=\d+)?\)")

MNTR_CORE = ["zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency",
             "zk_min_latency", "zk_packets_received", "zk_packets_sent",
             "zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count",
             "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
             "zk_open_file_descriptor_count", "zk_max_file_descriptor_count", "zk_uptime",
             "zk_global_sessions", "zk_local_sessions"]

CONF_KEYS = ["clientPort", "secureClientPort", "dataDir", "dataDirSize", "dataLogDir",
             "dataLogSize", "tickTime", "maxClientCnxns", "minSessionTimeout",
             "maxSessionTimeout", "clientPortListenBacklog", "serverId"]

NOT_WHITELISTED = "%s is not executed because it is not in the whitelist.\n"


# --------------------------------------------------------------------------- helpers

def fl(server, word):
    return FOUR_LETTER(server.port, word, timeout=IO_TIMEOUT)


def lines_of(out):
    """Output split into lines; every 4lw answer here ends with a newline."""
    assert out.endswith("\n"), "output does not end with a newline: %r" % out[-80:]
    return out[:-1].split("\n")


def match_all(patterns, lines):
    assert len(lines) == len(patterns), "expected %d lines, got %d:\n%s" % (
        len(patterns), len(lines), "\n".join(lines))
    for pat, line in zip(patterns, lines):
        assert re.fullmatch(pat, line), "line %r does not match %r" % (line, pat)


def srvr_fields(out):
    d = {}
    for line in lines_of(out):
        k, _, v = line.partition(": ")
        d[k] = v
    return d


def mntr(server):
    out = fl(server, "mntr")
    d = {}
    for line in lines_of(out):
        # keys are not all [a-z0-9_]: ZooKeeper has per-namespace metrics named after
        # top-level znodes, e.g. zk_avg_fourlw-w_write_per_namespace
        m = re.fullmatch(r"(zk_[^\s]+)\t(.+)", line)
        assert m, "mntr line %r is not 'zk_key<TAB>value'" % line
        assert m.group(1) not in d, "duplicate mntr key %s" % m.group(1)
        d[m.group(1)] = m.group(2)
    return d


def conf(server):
    d = {}
    for line in lines_of(fl(server, "conf")):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)=(.*)", line)
        assert m, "conf line %r is not key=value" % line
        d[m.group(1)] = m.group(2)
    return d


def poll(fn, what, timeout=IO_TIMEOUT):
    """Re-evaluate fn() until it returns a truthy value (4lw views are updated by the server
    asynchronously with respect to the client's reply in ZooKeeper)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for %s" % what
        time.sleep(0.05)   # polling interval


def sid_hex(session_id):
    return "0x%x" % session_id


class RawSession:
    """Minimal handshaked session (no pings, so its per-connection counters only move when
    the test sends something)."""

    def __init__(self, port, io_timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=io_timeout)
        p = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16 + b"\0"
        self.sock.sendall(struct.pack(">i", len(p)) + p)
        r = self._frame()
        self.timeout_ms, self.session_id = struct.unpack(">iq", r[4:16])
        assert self.session_id != 0
        self.sock.settimeout(IO_TIMEOUT)
        self.xid = 0

    def _exact(self, n):
        b = b""
        while len(b) < n:
            d = self.sock.recv(n - len(b))
            assert d, "server closed the session's connection"
            b += d
        return b

    def _frame(self):
        (n,) = struct.unpack(">i", self._exact(4))
        return self._exact(n)

    def get_data(self, path="/"):
        self.xid += 1
        p = path.encode()
        body = struct.pack(">ii", self.xid, 4) + struct.pack(">i", len(p)) + p + b"\0"
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        r = self._frame()
        xid, _zxid, err = struct.unpack(">iqi", r[:16])
        assert (xid, err) == (self.xid, 0)

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def close(self):
        try:
            self.xid += 1
            self.sock.sendall(struct.pack(">iii", 8, self.xid, -11))
            self.sock.settimeout(2.0)
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.sock.close()


def new_raw(port, deadline_s=30.0):
    # ZooKeeper answers ruok (the start-up probe) a moment before it accepts sessions
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return RawSession(port, io_timeout=3.0)
        except (OSError, AssertionError, struct.error):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)   # polling interval


@pytest.fixture(scope="module")
def raw(server):
    s = new_raw(server.port)
    yield s
    s.close()


@pytest.fixture(scope="module")
def zk(server, raw):
    c = KazooClient(hosts=server.hostport, timeout=20.0)
    c.start(timeout=30)
    yield c
    c.stop()
    c.close()


# --------------------------------------------------------------------------- formats

def test_ruok(server):
    assert fl(server, "ruok") == "imok"          # no newline


def test_srvr_format(server, raw):
    out = fl(server, "srvr")
    match_all(SRVR_LINES, lines_of(out))
    f = srvr_fields(out)
    assert int(f["Connections"]) >= 1            # at least our raw session
    assert int(f["Outstanding"]) == 0


def test_stat_format_lists_clients(server, raw):
    raw.get_data("/")
    lines = lines_of(fl(server, "stat"))
    assert re.fullmatch(SRVR_LINES[0], lines[0]), lines[0]
    assert lines[1] == "Clients:"
    blank = lines.index("", 2)                   # client list ends with an empty line
    clients = lines[2:blank]
    for c in clients:
        assert re.fullmatch(CONN_BRIEF, c), "stat client line %r" % c
    ports = [int(re.fullmatch(CONN_BRIEF, c).group("port") or 0) for c in clients]
    assert raw.local_port in ports, "our connection (port %d) not in %s" % (raw.local_port, clients)
    match_all(SRVR_LINES[1:], lines[blank + 1:])


def test_mntr_format_and_core_keys(server, raw):
    m = mntr(server)
    missing = [k for k in MNTR_CORE if k not in m]
    assert not missing, "mntr lacks %s" % missing
    assert m["zk_server_state"] == "standalone"
    for k in MNTR_CORE[2:]:
        assert re.fullmatch(NUM, m[k]), "%s=%r is not numeric" % (k, m[k])
    assert float(m["zk_min_latency"]) <= float(m["zk_avg_latency"]) <= float(m["zk_max_latency"])
    assert int(m["zk_num_alive_connections"]) >= 1
    assert int(m["zk_global_sessions"]) >= 1
    assert int(m["zk_local_sessions"]) == 0
    assert int(m["zk_outstanding_requests"]) == 0
    assert 0 < int(m["zk_open_file_descriptor_count"]) <= int(m["zk_max_file_descriptor_count"])
    # the same version string in srvr and mntr
    assert "Zookeeper version: " + m["zk_version"] == lines_of(fl(server, "srvr"))[0]


def test_conf_format_and_values(server):
    c = conf(server)
    missing = [k for k in CONF_KEYS if k not in c]
    assert not missing, "conf lacks %s (got %s)" % (missing, sorted(c))
    assert c["clientPort"] == str(server.port)
    assert c["secureClientPort"] == "-1"
    assert c["tickTime"] == server.cfg["tickTime"] == "2000"
    assert c["maxClientCnxns"] == "60"
    assert c["minSessionTimeout"] == "4000"      # 2 x tickTime
    assert c["maxSessionTimeout"] == "40000"     # 20 x tickTime
    assert c["serverId"] == "0"                  # standalone
    # ZooKeeper prints <dataDir>/version-2 for both directories
    assert c["dataDir"].startswith(server.cfg["dataDir"]), c["dataDir"]
    assert c["dataLogDir"].startswith(server.cfg["dataDir"]), c["dataLogDir"]
    for k in ("dataDirSize", "dataLogSize", "clientPortListenBacklog"):
        assert re.fullmatch(r"-?\d+", c[k]), (k, c[k])


def test_cons_lists_connected_client(server, raw):
    raw.get_data("/")
    lines = lines_of(fl(server, "cons"))
    assert lines[-1] == "", "cons output ends with an empty line"
    entries = [re.fullmatch(CONN_FULL, line) for line in lines[:-1]]
    for line, m in zip(lines, entries):
        assert m, "cons line %r" % line
    mine = [m for m in entries if m.group("sid") == sid_hex(raw.session_id)]
    assert len(mine) == 1, "session %s not listed once in %s" % (sid_hex(raw.session_id), lines)
    assert int(mine[0].group("port")) == raw.local_port
    assert int(mine[0].group("to")) == raw.timeout_ms
    assert int(mine[0].group("recved")) >= 2       # ConnectRequest + getData


def test_crst_resets_connection_stats(server, raw):
    raw.get_data("/")
    raw.get_data("/")
    assert fl(server, "crst") == "Connection stats reset.\n"
    lines = lines_of(fl(server, "cons"))
    mine = [re.fullmatch(CONN_FULL, line) for line in lines if sid_hex(raw.session_id) in line]
    assert len(mine) == 1 and mine[0], lines
    # the raw session sent nothing since the reset (it does not ping)
    assert (mine[0].group("recved"), mine[0].group("sent")) == ("0", "0"), mine[0].group(0)


def test_srst_resets_server_stats(server, raw):
    for _ in range(10):
        raw.get_data("/")
    before = srvr_fields(fl(server, "srvr"))
    assert int(before["Received"]) >= 10
    assert fl(server, "srst") == "Server stats reset.\n"
    after = srvr_fields(fl(server, "srvr"))
    assert int(after["Received"]) < int(before["Received"])
    # only 4lw traffic (and maybe a client ping) since the reset
    assert int(after["Received"]) <= 5 and int(after["Sent"]) <= 5
    assert after["Node count"] == before["Node count"]                # not a stat


def test_envi_format(server):
    lines = lines_of(fl(server, "envi"))
    assert lines[0] == "Environment:"
    env = {}
    for line in lines[1:]:
        m = re.fullmatch(r"([A-Za-z0-9_.]+)=(.*)", line)
        assert m, "envi line %r is not key=value" % line
        env[m.group(1)] = m.group(2)
    # java.* keys are JVM facts; a C server need not invent them
    for k in ("zookeeper.version", "host.name", "os.name", "os.arch", "os.version",
              "user.name", "user.dir"):
        assert k in env, "envi lacks %s" % k
    assert "Zookeeper version: " + env["zookeeper.version"] == lines_of(fl(server, "srvr"))[0]


def test_isro(server):
    assert fl(server, "isro") == "rw"            # no newline


def test_dirs_format(server):
    match_all([r"datadir_size: \d+", r"logdir_size: \d+"], lines_of(fl(server, "dirs")))


# --------------------------------------------------------------------------- semantics

def test_node_count_and_zxid_follow_writes(server, zk):
    before = srvr_fields(fl(server, "srvr"))
    m_before = mntr(server)
    assert int(m_before["zk_znode_count"]) == int(before["Node count"])
    zk.create("/fourlw-count", b"")
    zk.create("/fourlw-count/a", b"x" * 100)
    zk.create("/fourlw-count/b", b"y" * 100)
    after = srvr_fields(fl(server, "srvr"))
    assert int(after["Node count"]) == int(before["Node count"]) + 3
    assert int(after["Zxid"], 16) >= int(before["Zxid"], 16) + 3
    assert int(after["Received"]) > int(before["Received"])
    assert int(after["Sent"]) > int(before["Sent"])
    m_after = mntr(server)
    assert int(m_after["zk_znode_count"]) == int(m_before["zk_znode_count"]) + 3
    assert int(m_after["zk_approximate_data_size"]) >= \
        int(m_before["zk_approximate_data_size"]) + 200
    assert int(m_after["zk_packets_received"]) > int(m_before["zk_packets_received"])
    zk.delete("/fourlw-count", recursive=True)
    assert int(srvr_fields(fl(server, "srvr"))["Node count"]) == int(before["Node count"])


def _wchc(server):
    """wchc as {session hex: [paths]}."""
    out = {}
    cur = None
    for line in lines_of(fl(server, "wchc")):
        if line == "":
            continue
        if line.startswith("\t"):
            assert cur is not None, "path line before any session line"
            out[cur].append(line[1:])
        else:
            assert re.fullmatch(HEX, line), "wchc session line %r" % line
            cur = line
            out[cur] = []
    return out


def _wchp(server):
    """wchp as {path: [session hex]}."""
    out = {}
    cur = None
    for line in lines_of(fl(server, "wchp")):
        if line == "":
            continue
        if line.startswith("\t"):
            assert re.fullmatch(HEX, line[1:]), "wchp session line %r" % line
            assert cur is not None
            out[cur].append(line[1:])
        else:
            assert line.startswith("/"), "wchp path line %r" % line
            cur = line
            out[cur] = []
    return out


def test_watch_commands_reflect_client_watches(server, zk):
    # DOC: in ZooKeeper 3.8 wchs/wchc/wchp list data and exist watches only; child watches
    # are counted in mntr zk_watch_count but not shown by these three. Only data/exist
    # watches are asserted here.
    zk.create("/fourlw-w", b"v")
    w_before = int(mntr(server)["zk_watch_count"])
    zk.get("/fourlw-w", watch=lambda e: None)            # data watch
    zk.exists("/fourlw-missing", watch=lambda e: None)   # exist watch on a missing node
    sid = sid_hex(zk.client_id[0])

    m = re.fullmatch(r"(\d+) connections watching (\d+) paths\nTotal watches:(\d+)\n",
                     fl(server, "wchs"))
    assert m, fl(server, "wchs")
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= 2 and int(m.group(3)) >= 2
    assert int(mntr(server)["zk_watch_count"]) >= w_before + 2

    c = _wchc(server)
    assert sid in c, "session %s not in wchc %s" % (sid, c)
    assert {"/fourlw-w", "/fourlw-missing"} <= set(c[sid])
    p = _wchp(server)
    assert sid in p.get("/fourlw-w", []) and sid in p.get("/fourlw-missing", []), p

    # a standard watch is one-shot: once it fires it is gone from the listings
    zk.set("/fourlw-w", b"changed")
    poll(lambda: sid not in _wchp(server).get("/fourlw-w", []), "fired watch to disappear")
    assert "/fourlw-missing" in _wchc(server).get(sid, [])
    zk.delete("/fourlw-w")


def test_dump_lists_ephemerals_by_session(server, zk):
    zk.create("/fourlw-e1", b"", ephemeral=True)
    zk.create("/fourlw-e2", b"", ephemeral=True)
    sid = sid_hex(zk.client_id[0])
    lines = lines_of(fl(server, "dump"))
    assert lines[0] == "SessionTracker dump:"
    i = lines.index("ephemeral nodes dump:")
    m = re.fullmatch(r"Sessions with Ephemerals \((\d+)\):", lines[i + 1])
    assert m and int(m.group(1)) >= 1, lines[i + 1]
    # blocks of "0x<sid>:" followed by tab-indented paths (the section ends at the next
    # non-indented, non-session line, e.g. ZooKeeper's "Connections dump:")
    blocks = {}
    cur = None
    for line in lines[i + 2:]:
        if re.fullmatch(HEX + ":", line):
            cur = line[:-1]
            blocks[cur] = []
        elif line.startswith("\t") and cur is not None:
            blocks[cur].append(line[1:])
        else:
            break
    assert len(blocks) == int(m.group(1)), (blocks, lines[i + 1])
    assert {"/fourlw-e1", "/fourlw-e2"} <= set(blocks.get(sid, [])), blocks
    assert int(mntr(server)["zk_ephemerals_count"]) >= 2
    zk.delete("/fourlw-e1")
    zk.delete("/fourlw-e2")


def test_sessions_counted(server, raw, zk):
    m = mntr(server)
    assert int(m["zk_global_sessions"]) >= 2     # raw + kazoo
    assert int(m["zk_num_alive_connections"]) >= 2
    assert int(srvr_fields(fl(server, "srvr"))["Connections"]) >= 2


# --------------------------------------------------------------------------- whitelist

class _RuokViaSrvr:
    """zkservers.Server.start() waits for 'ruok' == 'imok' when the target is ZooKeeper. With
    ruok outside the whitelist that never happens, so during start only, the probe asks
    'srvr' instead (test-local monkeypatch; zkd's start-up check does not use 4lw)."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch

    def __enter__(self):
        def probe(port, word, *a, **kw):
            if word == "ruok":
                out = FOUR_LETTER(port, "srvr", *a, **kw)
                return "imok" if out.startswith("Zookeeper version:") else out
            return FOUR_LETTER(port, word, *a, **kw)
        self.monkeypatch.setattr(zkservers, "four_letter", probe)

    def __exit__(self, *exc):
        self.monkeypatch.setattr(zkservers, "four_letter", FOUR_LETTER)


def _start_with_whitelist(server_factory, monkeypatch, whitelist):
    s = server_factory(start=False)
    if whitelist is None:
        del s.cfg["4lw.commands.whitelist"]      # ZooKeeper's default applies
    else:
        s.cfg["4lw.commands.whitelist"] = whitelist
    with _RuokViaSrvr(monkeypatch):
        s.start()
    new_raw(s.port).close()                      # fully serving
    return s


@pytest.mark.parametrize("whitelist", ["srvr", None], ids=["srvr_only", "default"])
def test_whitelist_only_srvr(server_factory, monkeypatch, whitelist):
    # ZooKeeper's default whitelist is just srvr (isro only with read-only mode on)
    s = _start_with_whitelist(server_factory, monkeypatch, whitelist)
    assert fl(s, "ruok") == NOT_WHITELISTED % "ruok"
    match_all(SRVR_LINES, lines_of(fl(s, "srvr")))
    for w in ("stat", "mntr", "conf", "cons", "envi", "wchs", "wchc", "wchp", "dump",
              "crst", "srst", "isro", "dirs"):
        assert fl(s, w) == NOT_WHITELISTED % w, w
    # and the server still serves clients
    r = new_raw(s.port)
    r.get_data("/")
    r.close()


def test_whitelist_list_with_spaces(server_factory, monkeypatch):
    s = _start_with_whitelist(server_factory, monkeypatch, "srvr, ruok ,mntr")
    assert fl(s, "ruok") == "imok"
    assert fl(s, "mntr").startswith("zk_version\t")
    assert fl(s, "conf") == NOT_WHITELISTED % "conf"
    assert fl(s, "stat") == NOT_WHITELISTED % "stat"


# --------------------------------------------------------------------------- unknown words

def _read_until_closed(sock):
    deadline = time.monotonic() + IO_TIMEOUT
    buf = b""
    while True:
        assert time.monotonic() < deadline, "connection still open, got %r" % buf
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return buf
        if not d:
            return buf
        buf += d


@pytest.mark.parametrize("word", [b"abcd", b"RUOK", b"zzzz", b"\xff\xff\xff\xff"])
def test_unknown_word_closes(server, raw, word):
    # Not a known command, so ZooKeeper reads the 4 bytes as a frame length: far above
    # jute.maxbuffer (or negative) -> closed without any output.
    s = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
    try:
        s.sendall(word)
        assert _read_until_closed(s) == b""
    finally:
        s.close()
    assert fl(server, "ruok") == "imok"
    raw.get_data("/")


def test_word_after_handshake_is_not_a_command(server, raw):
    # 4lw are recognised only as the first bytes of a connection. After a handshake 'ruok'
    # is a frame length of 0x72756f6b: closed, nothing sent.
    r = new_raw(server.port)
    try:
        r.sock.sendall(b"ruok")
        assert _read_until_closed(r.sock) == b""
    finally:
        r.sock.close()
    raw.get_data("/")


def test_word_with_trailing_bytes(server):
    # Only the first 4 bytes count; the rest is ignored (telnet/nc send a newline).
    s = socket.create_connection(("127.0.0.1", server.port), timeout=IO_TIMEOUT)
    try:
        s.sendall(b"ruok\n")
        assert _read_until_closed(s) == b"imok"
    finally:
        s.close()


# --------------------------------------------------------------------------- shutdown

def test_zz_sigterm_exits_cleanly(server, raw, zk):
    """Last test of the module: SIGTERM with clients attached; zkd must exit 0 (Server.stop
    raises otherwise, e.g. on an ASan/LSan report)."""
    raw.get_data("/")
    rc = server.stop()
    if server.kind == "zkd":
        assert rc == 0
