"""Crash test: SIGKILL the server in the middle of a pipelined write burst, restart it on the
same dataDir, and check that nothing it acknowledged was lost or reordered.

The server replies to a write only once its txn is fsynced (zkd; Apache ZooKeeper's
standalone pipeline too, with forceSync=yes), so a kill -9 may lose only writes that were
never acknowledged, and, per session, what survives is a prefix of what was issued (the
server handles one session's requests in order).

Each test is a chain: one dataDir, CRASHES crash/restart cycles in a row, so every restart
recovers from snapshots and logs written by servers that were themselves killed. Every
iteration, with its own seed:
  * N_SESSIONS kazoo sessions pipeline writes (up to MAX_INFLIGHT in flight per session):
    creates (persistent, ephemeral, sequential, with create2's Stat), setData on own and
    on shared nodes (some with an expected version), deletes (some versioned), multis
    (creates + versioned setData + versioned delete + check); large values now and then so
    log files grow past preAllocSize;
  * the server is SIGKILLed at a seeded moment 30..400 ms into the burst (the burst runs
    until then), and restarted on the same dataDir (same port; the old clients are stopped
    first, so none of them can reach the new server or close its session);
  * checks, from one observer's reads right after the restart:
    - every path's observed state (absent, or data + version + czxid + mzxid + owner) is
      explained by a prefix of the writes issued to it; each write is thus classified as
      applied / not applied / unknown (e.g. created-then-deleted paths that are absent);
    - no acknowledged write is "not applied"; acknowledged create2/setData Stats match the
      node (czxid always; data, mzxid when the version is the acknowledged one; a shared
      node's version is >= every acknowledged version);
    - per session the applied writes form a prefix of the issue order (FIFO), a multi is
      all-or-nothing, and the zxids of applied writes increase in issue order;
    - no node that was never issued; sequential names are the ones the issue order implies;
    - a new write after the restart gets a zxid above every zxid seen before the kill;
    - the states captured at the end of the earlier iterations of the chain are unchanged
      (data and every Stat field), i.e. survived all later crashes;
    - sessions: some are resumed (KazooClient(client_id=...)) and keep their
      acknowledged ephemerals, then closed (ephemerals gone); the others are abandoned and
      expire no sooner than their timeout after the restart (their ephemerals are still
      there in the first read, gone within a bound afterwards, the session refused);
    - the server starts at all after the kill (else the failure shows its log).
At the end of a chain the server is stopped with SIGTERM (zkd must exit 0: ASan/LSan
clean; a server still running 30 s later fails the test, with gdb backtraces of it and its
children), restarted once more and every iteration's captured state checked again.

Server: tickTime=500 (sessions 1..10 s), small snapCount (log rolls and snapshots during
the burst), preAllocSize=4 (KiB) in some chains. Runs against zkd (default) or Apache
ZooKeeper 3.8 (ZK_TARGET=zookeeper), which must pass the same checks, with one allowance:
ZooKeeper 3.8 refuses to start when killed between creating a log file and writing its
header (an empty newest log.*: ZOOKEEPER-2332, fixed in 3.9.3 by deleting that file at
startup); for ZooKeeper only, the test then does what that fix does and starts it again.

Run time: about 45 s for zkd built with ASan, 65 s for ZooKeeper, on 2 cores.
"""
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest
import zkservers
from kazoo.exceptions import ConnectionClosedError, ConnectionLoss, NoNodeError

from test_kazoo_helpers import make_client, stop_client, wait_until

TARGET = zkservers.default_target()
TICK_MS = 500
N_SESSIONS = 4
CRASHES = 4                 # consecutive kill -9 / restart cycles per chain (one dataDir)
# (seed, snapCount, preAllocSize in KiB or None for the default): 3 chains x 4 = 12 crashes
CHAINS = [(1101, 50, 4), (2203, 20, None), (3307, 120, 4)]
MAX_INFLIGHT = 64           # per session
MAX_OPS = 1500              # per session and iteration (bounds the tree; rarely reached)
KILL_AFTER = (0.03, 0.40)   # seconds into the burst
RESUME_TIMEOUT = 10.0       # resumed sessions: the maximum, 20 x tickTime
ABANDON_TIMEOUTS = (2.0, 2.5, 3.0) if TARGET == "zkd" else (3.0, 3.5)
LARGE = (3000, 12000)       # occasional large values: several preAllocSize=4 KiB chunks

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")
CONN_ERRORS = (ConnectionLoss, ConnectionClosedError)
APPLIED, NOT_APPLIED, UNKNOWN = "applied", "NOT applied", "unknown"


def stat_tuple(st):
    return tuple(getattr(st, f) for f in STAT_FIELDS)


def short(b, n=40):
    if b is None:
        return "None"
    return repr(b[:n]) + ("...(%d bytes)" % len(b) if len(b) > n else "")


# ------------------------------------------------------------------------------ model

class Op:
    """One request of the workload, in its session's issue order."""

    def __init__(self, sess, idx, kind):
        self.sess = sess
        self.idx = idx
        self.kind = kind          # create | seq | set | delete | multi
        self.desc = ""
        self.effects = []         # (path, position in that path's history)
        self.expect_path = None   # sequential create: the name the issue order implies
        self.call = None          # client -> IAsyncResult
        self.result = None
        self.status = None        # acked | conn | unsent | error
        self.value = None
        self.error = None
        self.evidence = set()
        self.multi_sets = []      # multi: (index in the multi, effect) of its setData sub-ops

    def __repr__(self):
        return "s%d#%d %s [%s]" % (self.sess, self.idx, self.desc, self.status)


class PathHist:
    """What the workload issued to one path, in order (only its owner session writes an
    own path, so this is also the order the server must apply them in; a shared path is
    written by every session)."""

    def __init__(self, path, owner, eph=False, shared=False, init=None):
        self.path = path
        self.owner = owner        # session index, or None for a shared node
        self.eph = eph
        self.shared = shared
        self.init = init          # a shared node's data before the burst
        self.entries = []         # (op, action, data, setno); action: create | set | delete

    def add(self, op, action, data=None):
        setno = sum(1 for e in self.entries if e[1] == "set") + 1 if action == "set" else 0
        self.entries.append((op, action, data, setno))
        op.effects.append((self.path, len(self.entries) - 1))


class Session:
    def __init__(self, i, seed, root, timeout, resume):
        self.i = i
        self.rng = random.Random("%s/%d" % (seed, i))
        self.dir = "%s/s%d" % (root, i)
        self.qdir = self.dir + "/q"
        self.timeout = timeout
        self.resume = resume
        self.live = {}            # own path -> [version, eph, deletable], as if every issued
        #                           op applied
        self.k = 0
        self.seq = 0
        self.ops = []
        self.client = None
        self.sid = self.pw = None
        self.issued = 0           # written by the driver thread only
        self.completed = 0        # written by kazoo's completion thread only

    def inflight(self):
        return self.issued - self.completed


class Model:
    def __init__(self, label, seed, root, shared):
        self.label = label
        self.seed = seed
        self.root = root
        self.shared = shared
        self.hist = {p: PathHist(p, None, shared=True, init=b"init") for p in shared}
        self.sessions = []

    def h(self, path, owner=None, eph=False):
        if path not in self.hist:
            self.hist[path] = PathHist(path, owner, eph=eph)
        return self.hist[path]

    def data(self, s, tag):
        rng = s.rng
        head = b"%s|s%d|%d|%s|" % (self.label.encode(), s.i, len(s.ops), tag.encode())
        if rng.random() < 0.05:
            n = rng.randint(*LARGE)
        else:
            n = rng.randint(0, 120)
        return head + bytes(rng.getrandbits(8) for _ in range(min(n, 64))) * (n // 64 + 1)

    def next_op(self, s, first=False):
        """Append the next op of session s (deterministic in its rng) and return it."""
        rng = s.rng
        op = Op(s.i, len(s.ops), "?")
        r = rng.random()
        if first:
            kind = "pre"
        elif r < 0.22 or not s.live:
            kind = "create"
        elif r < 0.32:
            kind = "seq"
        elif r < 0.52:
            kind = "set"
        elif r < 0.62:
            kind = "shared"
        elif r < 0.74:
            kind = "delete"
        else:
            kind = "multi"
        # the session's first ephemeral ("pre") is never deleted: while the session lives
        # it has at least one acknowledged ephemeral, which shows whether it still does
        deletable = [p for p in sorted(s.live) if s.live[p][2]]
        if kind == "delete" and not deletable:
            kind = "create"

        if kind in ("pre", "create"):
            eph = kind == "pre" or rng.random() < 0.3
            p = "%s/%s%d" % (s.dir, "e" if eph else "n", s.k)
            s.k += 1
            d = self.data(s, "create")
            op.kind, op.desc = "create", "create%s %s" % (" -e" if eph else "", p)
            self.h(p, s.i, eph).add(op, "create", d)
            s.live[p] = [0, eph, kind != "pre"]
            op.call = lambda c: c.create_async(p, d, ephemeral=eph, include_data=True)
        elif kind == "seq":
            eph = rng.random() < 0.4
            p = "%s/q-%010d" % (s.qdir, s.seq)
            s.seq += 1
            d = self.data(s, "seq")
            op.kind, op.desc, op.expect_path = "seq", "create -s%s %s" % (" -e" if eph else "", p), p
            self.h(p, s.i, eph).add(op, "create", d)
            q = s.qdir + "/q-"
            op.call = lambda c: c.create_async(q, d, ephemeral=eph, sequence=True, include_data=True)
        elif kind == "set":
            p = rng.choice(sorted(s.live))
            ver = s.live[p][0] if rng.random() < 0.5 else -1
            s.live[p][0] += 1
            d = self.data(s, "set")
            op.kind, op.desc = "set", "setData %s version=%d" % (p, ver)
            self.hist[p].add(op, "set", d)
            op.call = lambda c: c.set_async(p, d, version=ver)
        elif kind == "shared":
            p = rng.choice(self.shared)
            d = self.data(s, "shared")
            op.kind, op.desc = "set", "setData %s (shared)" % p
            self.hist[p].add(op, "set", d)
            op.call = lambda c: c.set_async(p, d)
        elif kind == "delete":
            p = rng.choice(deletable)
            ver = s.live[p][0] if rng.random() < 0.5 else -1
            del s.live[p]
            op.kind, op.desc = "delete", "delete %s version=%d" % (p, ver)
            self.hist[p].add(op, "delete")
            op.call = lambda c: c.delete_async(p, version=ver)
        else:
            a = "%s/m%da" % (s.dir, s.k)
            b = "%s/m%db" % (s.dir, s.k)
            s.k += 1
            beph = rng.random() < 0.3
            da, db = self.data(s, "multi-a"), self.data(s, "multi-b")
            subs = [("create", a, da, False), ("create", b, db, beph)]
            own = sorted(s.live)
            rng.shuffle(own)
            if own and rng.random() < 0.8:
                p = own.pop()
                subs.append(("set", p, self.data(s, "multi-set"), s.live[p][0]))
            dels = [p for p in own if s.live[p][2]]
            if dels and rng.random() < 0.5:
                p = dels[-1]
                own.remove(p)
                subs.append(("delete", p, None, s.live[p][0]))
            if own and rng.random() < 0.4:
                p = own.pop()
                subs.append(("check", p, None, s.live[p][0]))
            for j, (kind_, p, d, x) in enumerate(subs):
                if kind_ == "create":
                    self.h(p, s.i, x).add(op, "create", d)
                elif kind_ == "set":
                    self.hist[p].add(op, "set", d)
                    op.multi_sets.append((j, op.effects[-1]))
                    s.live[p][0] += 1
                elif kind_ == "delete":
                    self.hist[p].add(op, "delete")
                    del s.live[p]
            s.live[a] = [0, False, True]
            s.live[b] = [0, beph, True]
            op.kind = "multi"
            op.desc = "multi[%s]" % ", ".join(
                "%s %s%s" % (k_, p, "" if x is False or x is None else
                             " -e" if x is True else " v=%d" % x) for k_, p, _, x in subs)

            def call(c, subs=subs):
                t = c.transaction()
                for kind_, p, d, x in subs:
                    if kind_ == "create":
                        t.create(p, d, ephemeral=x)
                    elif kind_ == "set":
                        t.set_data(p, d, version=x)
                    elif kind_ == "delete":
                        t.delete(p, version=x)
                    else:
                        t.check(p, x)
                return t.commit_async()
            op.call = call
        s.ops.append(op)
        return op


def settle(op):
    """Classify op's outcome once its client is stopped (every reply has been read)."""
    res = op.result
    if res is None or not res.ready():
        op.status = "unsent"
    elif res.successful():
        op.value = res.get()
        bad = [x for x in op.value if isinstance(x, Exception)] if op.kind == "multi" else []
        if bad:
            op.status, op.error = "error", bad
        else:
            op.status = "acked"
    elif isinstance(res.exception, CONN_ERRORS):
        op.status = "conn"
    else:
        op.status, op.error = "error", res.exception


# ------------------------------------------------------------------------------ reads

def read_nodes(c, paths):
    """Pipelined get of every path: {path: (data, stat) or None}."""
    rs = [(p, c.get_async(p)) for p in paths]
    out = {}
    for p, r in rs:
        try:
            out[p] = r.get(timeout=30)
        except NoNodeError:
            out[p] = None
    return out


def read_children(c, dirs):
    rs = [(d, c.get_children_async(d)) for d in dirs]
    out = {}
    for d, r in rs:
        try:
            out[d] = sorted(r.get(timeout=30))
        except NoNodeError:
            out[d] = None
    return out


def dump_tree(c, root):
    """{path: (data, stat tuple)} for root and everything below it."""
    tree = {}
    level = [root]
    while level:
        got = read_nodes(c, level)
        kids = read_children(c, level)
        nxt = []
        for p in level:
            if got[p] is None:
                continue
            tree[p] = (got[p][0], stat_tuple(got[p][1]))
            nxt += [p + "/" + k for k in (kids[p] or [])]
        level = nxt
    return tree


def diff_trees(want, got, limit=15):
    out = []
    for p in sorted(set(want) | set(got)):
        w, g = want.get(p), got.get(p)
        if w == g:
            continue
        if w is None:
            out.append("%s: appeared (data %s)" % (p, short(g[0])))
        elif g is None:
            out.append("%s: vanished (was data %s)" % (p, short(w[0])))
        else:
            fs = ["%s %s->%s" % (f, a, b) for f, a, b in zip(STAT_FIELDS, w[1], g[1]) if a != b]
            if w[0] != g[0]:
                fs.append("data %s->%s" % (short(w[0]), short(g[0])))
            out.append("%s: %s" % (p, ", ".join(fs)))
        if len(out) >= limit:
            out.append("...")
            break
    return out


# ------------------------------------------------------------------------------ checks

def evaluate(model, obs, unknown, problems):
    """Classify every op as applied / not applied / unknown from the observed state obs
    ({path: (data, stat) or None}); paths in `unknown` tell nothing. Records problems.
    Returns [(session, op index, zxid)] evidence for the zxid-order check."""
    sids = {s.i: s.sid for s in model.sessions}
    zx = []
    for path, h in model.hist.items():
        if path in unknown:
            for op, *_ in h.entries:
                op.evidence.add(UNKNOWN)
            continue
        o = obs.get(path)
        if h.shared:
            if o is None:
                problems.append("shared node %s is missing" % path)
                continue
            data, st = o
            match = [e for e in h.entries if e[2] == data]
            if data == h.init and st.version == 0:
                for op, *_ in h.entries:
                    op.evidence.add(NOT_APPLIED)
            elif not match:
                problems.append("%s (shared): data %s version %d was never written"
                                % (path, short(data), st.version))
            else:
                op = match[0][0]
                op.evidence.add(APPLIED)
                zx.append((op.sess, op.idx, st.mzxid, "mzxid of %s" % path))
            if st.version > len(h.entries):
                problems.append("%s (shared): version %d but only %d setData were issued"
                                % (path, st.version, len(h.entries)))
            continue
        if o is None:
            ev = UNKNOWN if h.entries[-1][1] == "delete" else NOT_APPLIED
            for op, *_ in h.entries:
                op.evidence.add(ev)
            continue
        data, st = o
        v = st.version
        nsets = sum(1 for e in h.entries if e[1] == "set")
        if v > nsets:
            problems.append("%s: version %d but only %d setData were issued" % (path, v, nsets))
        want = None
        for op, action, d, setno in h.entries:
            if action == "create":
                op.evidence.add(APPLIED)
                zx.append((op.sess, op.idx, st.czxid, "czxid of %s" % path))
                if v == 0:
                    want = (op, d)
            elif action == "set":
                op.evidence.add(APPLIED if setno <= v else NOT_APPLIED)
                if setno == v:
                    want = (op, d)
                    zx.append((op.sess, op.idx, st.mzxid, "mzxid of %s" % path))
            else:
                op.evidence.add(NOT_APPLIED)
        if want is not None and want[1] != data:
            problems.append("%s: version %d should hold the data of %r, holds %s"
                            % (path, v, want[0], short(data)))
        owner = sids[h.owner] if h.eph else 0
        if st.ephemeralOwner != owner:
            problems.append("%s: ephemeralOwner 0x%x, expected 0x%x"
                            % (path, st.ephemeralOwner, owner))
    return zx


def check_acked_set(model, op, effect, st, obs, unknown, problems):
    """An acknowledged setData (alone or in a multi) returned Stat st for effect's path:
    the node's version after the restart is at least st.version, and if it is the same,
    so are the data and mzxid."""
    path, pos = effect
    o = obs.get(path)
    if o is None or path in unknown:
        return
    if o[1].version < st.version:
        problems.append("%r: %s acked version %d, after restart version %d"
                        % (op, path, st.version, o[1].version))
    elif o[1].version == st.version:
        d = model.hist[path].entries[pos][2]
        if o[0] != d or o[1].mzxid != st.mzxid:
            problems.append("%r: %s acked version %d mzxid 0x%x data %s; after restart the same "
                            "version with mzxid 0x%x data %s" % (op, path, st.version, st.mzxid,
                                                                short(d), o[1].mzxid, short(o[0])))


def check_iteration(model, obs, unknown, problems):
    zx = evaluate(model, obs, unknown, problems)
    for s in model.sessions:
        last_applied = None
        acked_zx = []
        for op in s.ops:
            ev = op.evidence
            if APPLIED in ev and NOT_APPLIED in ev:
                problems.append("%r half applied (multi not atomic?): %s"
                                % (op, ["%s@%d" % e for e in op.effects]))
            op.outcome = APPLIED if APPLIED in ev else NOT_APPLIED if NOT_APPLIED in ev else UNKNOWN
            if op.outcome == APPLIED:
                last_applied = op
            if op.status == "acked" and op.outcome == NOT_APPLIED:
                problems.append("acknowledged write lost: %r (value %r)" % (op, op.value))
            if op.status != "acked":
                continue
            # Stats returned with the acknowledgement
            if op.kind in ("create", "seq"):
                path, st = op.value
                acked_zx.append((op.idx, st.czxid))
                if op.kind == "seq" and path != op.expect_path:
                    problems.append("%r: acknowledged name %s, expected %s" % (op, path, op.expect_path))
                p = op.expect_path or path
                o = obs.get(p)
                if o is not None and p not in unknown:
                    if o[1].czxid != st.czxid or o[1].ctime != st.ctime:
                        problems.append("%r: acked czxid 0x%x ctime %d, after restart 0x%x %d"
                                        % (op, st.czxid, st.ctime, o[1].czxid, o[1].ctime))
                    if o[1].version == 0 and o[1].mzxid != st.mzxid:
                        problems.append("%r: acked mzxid 0x%x, after restart 0x%x"
                                        % (op, st.mzxid, o[1].mzxid))
            elif op.kind == "set":
                acked_zx.append((op.idx, op.value.mzxid))
                check_acked_set(model, op, op.effects[0], op.value, obs, unknown, problems)
            elif op.kind == "multi":
                for j, eff in op.multi_sets:   # the Stat each setData in it returned
                    check_acked_set(model, op, eff, op.value[j], obs, unknown, problems)
        # FIFO: nothing not applied before the last applied op of the session
        if last_applied is not None:
            for op in s.ops[:last_applied.idx]:
                if op.outcome == NOT_APPLIED:
                    problems.append("FIFO violated in session %d: %r is not applied but the later "
                                    "%r is" % (s.i, op, last_applied))
                    break
        # zxids increase in issue order (acknowledgements before the kill)
        for (i1, z1), (i2, z2) in zip(acked_zx, acked_zx[1:]):
            if not z1 < z2:
                problems.append("session %d: acked op #%d has zxid 0x%x, the later #%d 0x%x"
                                % (s.i, i1, z1, i2, z2))
    # zxids of what survived increase in issue order too
    by_sess = {}
    for sess, idx, z, what in zx:
        by_sess.setdefault(sess, []).append((idx, z, what))
    for sess, lst in by_sess.items():
        lst.sort()
        for (i1, z1, w1), (i2, z2, w2) in zip(lst, lst[1:]):
            if (i1 == i2 and z1 != z2) or (i1 < i2 and not z1 < z2):
                problems.append("session %d: op #%d (%s 0x%x) vs op #%d (%s 0x%x): zxids out of "
                                "issue order" % (sess, i1, w1, z1, i2, w2, z2))
    return problems


# ------------------------------------------------------------------------------ the chain

class Chain:
    """Everything one test owns: the dataDir, the server, the clients. close() releases it
    all (by PID for the server), whatever happened."""

    def __init__(self, seed, snap_count, prealloc_kb):
        self.seed = seed
        self.datadir = tempfile.mkdtemp(prefix="zkt-crash-data-")
        cfg = {"dataDir": self.datadir, "snapCount": str(snap_count)}
        if prealloc_kb:
            cfg["preAllocSize"] = str(prealloc_kb)
        self.srv = zkservers.Server(TARGET, cfg=cfg, tick_ms=TICK_MS, keep_dir=True)
        self.clients = []
        self.label = "chain %d" % seed
        self.notes = []

    def client(self, timeout=10.0, **kw):
        c = make_client(self.srv.hostport, timeout=timeout, start=False, **kw)
        self.clients.append(c)
        c.start(timeout=15)
        return c

    def drop(self, c):
        stop_client(c)
        if c in self.clients:
            self.clients.remove(c)

    def log_tail(self, n=60):
        return "\n".join(self.srv.log().splitlines()[-n:])

    def files(self):
        out = []
        for d, _, fs in os.walk(self.datadir):
            for f in sorted(fs):
                p = os.path.join(d, f)
                try:
                    st = os.stat(p)
                    out.append("%s %d bytes (%d allocated)"
                               % (os.path.relpath(p, self.datadir), st.st_size, st.st_blocks * 512))
                except OSError:
                    pass
        return out

    def fail(self, what, problems):
        msg = ["%s [%s, target %s, dataDir %s]: %s" % (self.label, what, TARGET, self.datadir,
                                                        "%d problem(s)" % len(problems))]
        msg += ["  " + p for p in problems[:40]]
        if len(problems) > 40:
            msg.append("  ... %d more" % (len(problems) - 40))
        msg.append("notes: " + "; ".join(self.notes[-6:]))
        msg.append("dataDir files:\n  " + "\n  ".join(self.files()[-30:]))
        msg.append("server log tail:\n" + self.log_tail())
        raise AssertionError("\n".join(msg))

    def start_server(self, what):
        """Start (again) on the dataDir; returns (time before the start, time it grants
        sessions). A server that exits or grants no session fails the test, with its log."""
        for attempt in (1, 2):
            t0 = time.monotonic()
            try:
                self.srv.start(timeout=60)
                wait_until(lambda: self._grants_session(), timeout=60, interval=0.05,
                           msg="no session granted within 60 s")
                return t0, time.monotonic()
            except Exception as e:
                err = str(e)[:2000]
            if self.srv.alive():
                self.srv.kill()
            self.srv.proc = None
            if attempt == 1 and TARGET == "zookeeper" and self._zk_empty_log_workaround():
                continue
            self.fail(what, ["the server did not start: %s" % err])

    def _grants_session(self):
        if not self.srv.alive():
            raise RuntimeError("%s exited with status %s" % (TARGET, self.srv.proc.returncode))
        # a short socket timeout: ZooKeeper, still loading, may accept a connection and
        # never answer it (raw_handshake would wait 10 s, during which recovered sessions
        # run out of time)
        try:
            return handshake(self.srv.port, 10000, timeout=1.0)[0] > 0
        except (OSError, ConnectionError):
            return False

    def _zk_empty_log_workaround(self):
        """Apache ZooKeeper 3.8 refuses to start when the newest txn log is empty (killed
        after creating it, before its header reached the file): ZOOKEEPER-2332, fixed in
        3.9.3 by deleting that file at startup. Do what the fix does, once, and say so.
        (zkd does it itself: no such help for zkd.)"""
        d = os.path.join(self.datadir, "version-2")
        logs = [f for f in os.listdir(d) if f.startswith("log.")]
        if not logs:
            return False
        newest = max(logs, key=lambda f: int(f[4:], 16))
        path = os.path.join(d, newest)
        if os.path.getsize(path) != 0:
            return False
        os.remove(path)
        self.notes.append("ZOOKEEPER-2332: ZooKeeper refused to start on an empty %s; "
                          "removed it and started again" % newest)
        return True

    def clean_stop(self, what, wait=30):
        """SIGTERM by PID; zkd must exit 0 (ASan/LSan clean). If the server does not exit,
        show where its threads are (gdb when installed) before killing it."""
        proc = self.srv.proc
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            diag = process_diag(proc.pid)
            self.srv.kill()
            self.fail(what, ["%s (pid %d) still running %d s after SIGTERM" % (TARGET, proc.pid, wait)]
                      + diag)
        self.srv.proc = None
        if TARGET == "zkd" and rc != 0:
            self.fail(what, ["zkd exited with status %s after SIGTERM (sanitizer report?)" % rc])

    def close(self):
        for c in list(self.clients):
            stop_client(c)
        self.clients = []
        try:
            self.srv.cleanup()
        finally:
            shutil.rmtree(self.datadir, ignore_errors=True)


def handshake(port, timeout_ms, session_id=0, passwd=b"\0" * 16, timeout=5.0):
    """ConnectRequest by hand: returns (granted timeout, session id). A granted session
    is closed again (closeSession), so probing never leaves one behind."""
    body = struct.pack("!iqiq", 0, 0, timeout_ms, session_id) + struct.pack("!i", len(passwd))
    body += passwd + b"\0"
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(struct.pack("!i", len(body)) + body)

        def recv_exact(n):
            buf = b""
            while len(buf) < n:
                d = s.recv(n - len(buf))
                if not d:
                    raise ConnectionError("closed")
                buf += d
            return buf
        payload = recv_exact(struct.unpack("!i", recv_exact(4))[0])
        _, to, sid = struct.unpack_from("!iiq", payload, 0)
        if to > 0:
            s.sendall(struct.pack("!iii", 8, 1, -11))
            recv_exact(struct.unpack("!i", recv_exact(4))[0])
        return to, sid
    finally:
        s.close()


def process_diag(pid):
    out = []
    try:
        kids = subprocess.run(["ps", "-o", "pid,ppid,stat,etime,wchan:32,args", "--ppid", str(pid),
                               "-p", str(pid)], capture_output=True, text=True, timeout=10).stdout
        out.append("processes:\n" + kids)
        for t in sorted(os.listdir("/proc/%d/task" % pid)):
            with open("/proc/%d/task/%s/wchan" % (pid, t)) as f:
                w = f.read()
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                st = f.read().split(") ", 1)[1].split()[0]
            out.append("thread %s: state %s wchan %s" % (t, st, w))
    except (OSError, subprocess.SubprocessError) as e:
        out.append("(no /proc details: %s)" % e)
    if shutil.which("gdb"):
        pids = [pid]
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                pids += [int(x) for x in f.read().split()]
        except OSError:
            pass
        for p in pids:
            try:
                bt = subprocess.run(["gdb", "-p", str(p), "-batch", "-ex", "thread apply all bt"],
                                    capture_output=True, text=True, timeout=60).stdout
                out.append("gdb backtraces of pid %d%s:\n" % (p, " (child)" if p != pid else "")
                           + "\n".join(l for l in bt.splitlines() if l.startswith(("#", "Thread"))))
            except (OSError, subprocess.SubprocessError) as e:
                out.append("(gdb failed: %s)" % e)
    return out


@pytest.fixture
def chain_factory():
    made = []

    def make(*a):
        c = Chain(*a)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def burst(ch, model, kill_after):
    """Drive the sessions' pipelined writes until the server is killed kill_after seconds
    in; returns (issued, acked, inflight at the kill, max zxid the clients saw)."""
    sessions = model.sessions
    stop = threading.Event()
    err = []

    def done(_res, s):
        s.completed += 1

    def drive():
        try:
            while not stop.is_set():
                progressed = False
                for s in sessions:
                    if s.inflight() < MAX_INFLIGHT and len(s.ops) < MAX_OPS:
                        op = model.next_op(s)
                        s.issued += 1
                        op.result = op.call(s.client)
                        op.result.rawlink(lambda r, s=s: done(r, s))
                        progressed = True
                if not progressed:
                    time.sleep(0.001)
        except Exception as e:  # pragma: no cover - a workload bug, reported below
            err.append(repr(e))

    th = threading.Thread(target=drive, daemon=True)
    th.start()
    time.sleep(kill_after)
    inflight = sum(s.inflight() for s in sessions)
    rc = ch.srv.kill()
    stop.set()
    th.join(30)
    assert not err, "workload driver failed: %s" % err
    assert rc == -9, "%s exited with %s before the kill; log:\n%s" % (TARGET, rc, ch.log_tail())
    # every reply the dead server sent has been read once a client notices the loss
    wait_until(lambda: not any(s.client.connected for s in sessions), timeout=20,
               msg="clients still connected to a killed server")
    max_zxid = max(s.client.last_zxid for s in sessions)
    # stop the old clients (in parallel: each may be in a reconnect back-off) before the
    # restart, so none of them reaches the new server or closes its session there
    ths = [threading.Thread(target=stop_client, args=(s.client,)) for s in sessions]
    for t in ths:
        t.start()
    for t in ths:
        t.join(30)
    running = [s.i for s in sessions if not s.client._connection.connection_stopped.is_set()]
    assert not running, "old clients of sessions %s did not stop; they could reach the " \
        "restarted server" % running
    for s in sessions:
        if s.client in ch.clients:
            ch.clients.remove(s.client)
    for s in sessions:
        for op in s.ops:
            settle(op)
    issued = sum(len(s.ops) for s in sessions)
    acked = sum(1 for s in sessions for op in s.ops if op.status == "acked")
    for s in sessions:
        for op in s.ops:
            if op.status == "acked":
                vals = [op.value] if op.kind != "multi" else op.value
                for v in vals:
                    st = v[1] if isinstance(v, tuple) else v
                    if hasattr(st, "mzxid"):
                        max_zxid = max(max_zxid, st.czxid, st.mzxid, st.pzxid)
    return issued, acked, inflight, max_zxid


def run_iteration(ch, it, baselines):
    seed = ch.seed * 100 + it
    rng = random.Random(seed)
    what = "iteration %d, seed %d" % (it, seed)
    root = "/crash/c%d/i%d" % (ch.seed, it)
    shared = ["%s/shared%d" % (root, j) for j in range(3)]
    model = Model("%d" % seed, seed, root, shared)
    resume = rng.sample(range(N_SESSIONS), N_SESSIONS // 2)
    obsc = ch.client()
    obsc.ensure_path(root)
    for p in shared:
        obsc.create(p, b"init")
    for i in range(N_SESSIONS):
        timeout = RESUME_TIMEOUT if i in resume else rng.choice(ABANDON_TIMEOUTS)
        s = Session(i, seed, root, timeout, i in resume)
        obsc.create(s.dir)
        obsc.create(s.qdir)
        s.client = ch.client(timeout=timeout,
                             connection_retry=dict(max_tries=-1, delay=0.05, backoff=1, max_delay=0.05))
        s.sid, s.pw = s.client.client_id
        model.sessions.append(s)
        op = model.next_op(s, first=True)      # one acknowledged ephemeral per session
        op.result = op.call(s.client)
        op.result.get(timeout=15)
        s.issued = s.completed = 1
    ch.drop(obsc)

    kill_after = rng.uniform(*KILL_AFTER)
    issued, acked, inflight, max_seen = burst(ch, model, kill_after)
    ch.notes.append("%s: killed %.0f ms into the burst: %d issued, %d acked, %d in flight"
                    % (what, kill_after * 1000, issued, acked, inflight))
    problems = []
    for s in model.sessions:
        for op in s.ops:
            if op.status == "error":
                problems.append("%r failed with %r before the kill" % (op, op.error))
    if problems:
        ch.fail(what + " (burst)", problems)

    t_pre, t_up = ch.start_server(what)
    obsc = ch.client()
    # -- first read: everything the workload touched, pipelined, as early as possible
    dirs = [s.dir for s in model.sessions] + [s.qdir for s in model.sessions]
    kids = read_children(obsc, dirs)
    listed = [d + "/" + k for d in dirs for k in (kids[d] or []) if d + "/" + k not in kids]
    obs = read_nodes(obsc, sorted(set(listed) | set(model.hist)))
    t_read = time.monotonic()
    ch.notes.append("%s: restart took %.2f s, first read done %.2f s after it began"
                    % (what, t_up - t_pre, t_read - t_pre))
    unknown = set()
    late = []
    for s in model.sessions:
        # an abandoned session cannot have expired before its timeout has passed since the
        # server started (after t_pre); if the read ended later, its ephemerals tell nothing
        if not s.resume and t_read - t_pre >= s.timeout - 0.05:
            late.append(s.i)
            unknown |= {p for p, h in model.hist.items() if h.owner == s.i and h.eph}
    if late:
        ch.notes.append("%s: first read %.2f s after the restart began: ephemerals of "
                        "sessions %s not checked" % (what, t_read - t_pre, late))
    problems = []
    for s in model.sessions:
        if s.i in late:
            continue
        # a session that lost every ephemeral: report the session once, not each ephemeral
        want = [p for p, h in model.hist.items() if h.owner == s.i and h.eph
                and h.entries[0][0].status == "acked"
                and not any(e[1] == "delete" for e in h.entries)]
        if want and not any(o and o[1].ephemeralOwner == s.sid for o in obs.values()):
            problems.append("session %d (0x%x, %s, timeout %.1f s) did not survive the restart: "
                            "none of its %d acknowledged ephemerals (e.g. %s) is there %.2f s "
                            "after the restart began (recovery took %.2f s)"
                            % (s.i, s.sid, "to be resumed" if s.resume else "abandoned", s.timeout,
                               len(want), want[0], t_read - t_pre, t_up - t_pre))
            unknown |= {p for p, h in model.hist.items() if h.owner == s.i and h.eph}
    for d in dirs:
        if kids[d] is None:
            problems.append("%s is missing" % d)
    for p in listed:
        if p not in model.hist:
            problems.append("%s exists (data %s) but was never issued" % (p, short(obs[p] and obs[p][0])))
    check_iteration(model, obs, unknown, problems)
    if problems:
        ch.fail(what, problems)

    # -- the states of the earlier iterations survived this crash too
    for r, want in baselines:
        d = diff_trees(want, dump_tree(obsc, r))
        if d:
            ch.fail(what, ["state of %s (captured after an earlier iteration) changed:" % r] + d)

    # -- zxids continue above everything seen before the kill and everything recovered
    top = max([max(st.czxid, st.mzxid, st.pzxid) for o in obs.values() if o for st in [o[1]]] + [max_seen])
    _, st = obsc.create(root + "/after", b"after", include_data=True)
    if not st.czxid > top:
        ch.fail(what, ["new create after the restart got czxid 0x%x, but 0x%x was seen before"
                       % (st.czxid, top)])

    # -- sessions
    problems = []
    for s in model.sessions:
        if not s.resume:
            continue
        eph = [p for p, h in model.hist.items() if h.owner == s.i and h.eph and obs.get(p)]
        rc_ = ch.client(timeout=s.timeout, client_id=(s.sid, s.pw))
        if rc_.client_id[0] != s.sid:
            problems.append("session %d (0x%x) could not be resumed %.1f s after the restart "
                            "(got 0x%x)" % (s.i, s.sid, time.monotonic() - t_up, rc_.client_id[0]))
            continue
        for p, o in read_nodes(rc_, eph).items():
            if o is None or o[1].ephemeralOwner != s.sid:
                problems.append("resumed session %d: ephemeral %s gone or not its own: %r" % (s.i, p, o))
        rc_.create(s.dir + "/resumed", ephemeral=True)
        ch.drop(rc_)     # closeSession: every ephemeral of the session goes
        left = [p for p, o in read_nodes(obsc, eph + [s.dir + "/resumed"]).items() if o]
        if left:
            problems.append("session %d closed, its ephemerals remain: %s" % (s.i, left))
        r = handshake(ch.srv.port, 4000, session_id=s.sid, passwd=s.pw)
        if r[0] != 0:
            problems.append("session %d (0x%x) resumable after closeSession: %r" % (s.i, s.sid, r))
    for s in model.sessions:
        if s.resume:
            continue

        def own_ephemerals(s=s):
            k = read_children(obsc, [s.dir, s.qdir])
            paths = [d + "/" + n for d in k for n in (k[d] or [])]
            return [p for p, o in read_nodes(obsc, paths).items()
                    if o and o[1].ephemeralOwner == s.sid]
        if any(o and o[1].ephemeralOwner == s.sid for o in obs.values()):
            # its ephemerals were there in the first read: they go when it expires, which
            # is no sooner than its timeout after the server started (after t_pre)
            deadline = t_up + s.timeout + 10
            while True:
                left = own_ephemerals()
                now = time.monotonic()
                if not left or now > deadline:
                    break
                time.sleep(0.05)
            if left:
                problems.append("abandoned session %d (0x%x, timeout %.1f s) not expired %.1f s "
                                "after the restart: %s" % (s.i, s.sid, s.timeout, now - t_pre, left[:5]))
                continue
            if now - t_pre < s.timeout - 0.05:
                problems.append("abandoned session %d (0x%x, timeout %.1f s) expired only %.2f s "
                                "after the restart began" % (s.i, s.sid, s.timeout, now - t_pre))
                continue
        else:
            # nothing to watch (the first read came too late to tell): once it must have
            # expired, the session must be refused
            time.sleep(max(0.0, t_up + s.timeout + 2 * TICK_MS / 1000.0 - time.monotonic()))
            if own_ephemerals():
                problems.append("abandoned session %d (0x%x) still owns ephemerals %.1f s after "
                                "the restart" % (s.i, s.sid, time.monotonic() - t_pre))
                continue
        r = handshake(ch.srv.port, int(s.timeout * 1000), session_id=s.sid, passwd=s.pw)
        if r[0] != 0:
            problems.append("expired session %d (0x%x) could be resumed: %r" % (s.i, s.sid, r))
    if problems:
        ch.fail(what + " (sessions)", problems)
    baselines.append((root, dump_tree(obsc, root)))
    ch.drop(obsc)
    return acked


@pytest.mark.parametrize("seed,snap_count,prealloc_kb", CHAINS,
                         ids=["seed%d-snap%d-prealloc%s" % (a, b, c or "default") for a, b, c in CHAINS])
def test_kill9_during_pipelined_writes(chain_factory, seed, snap_count, prealloc_kb):
    ch = chain_factory(seed, snap_count, prealloc_kb)
    t0, _ = ch.start_server("initial start")
    baselines = []
    acked = 0
    for it in range(CRASHES):
        acked += run_iteration(ch, it, baselines)
    assert acked > 0, "no write was acknowledged before any kill: the test proved nothing"
    # a clean stop (zkd: exit status 0, i.e. ASan/LSan clean after recovering from crashes),
    # one more start on the same dataDir, every captured state unchanged
    ch.clean_stop("clean stop after %d crashes" % CRASHES)
    ch.start_server("restart after the clean stop")
    c = ch.client()
    for r, want in baselines:
        d = diff_trees(want, dump_tree(c, r))
        if d:
            ch.fail("after the clean stop", ["state of %s changed:" % r] + d)
    ch.drop(c)
    ch.clean_stop("final stop")
    print("%s: %.1f s; %s" % (ch.label, time.monotonic() - t0, "; ".join(ch.notes)))
