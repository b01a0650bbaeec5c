"""Differential tests: the same scenarios against Apache ZooKeeper 3.8 and zkd.

Each scenario is a function ``scenario(t)`` that drives one or more sessions through a
:class:`Trace` ``t`` (``t.connect(name)`` is the connected-client factory) and thereby
records a trace: every reply (op, args, xid, header zxid, error code, decoded body) and
every watch notification, in arrival order relative to the replies of the same session.
Cross-session events are pinned down with ``t.barrier()``: each named session pings, and a
notification triggered by an earlier, already-answered write must arrive before that
ping's reply.

The scenario runs against a fresh reference server and a fresh target server started with
identical zoo.cfg keys (``zkservers.Server``); both traces are normalised and compared:

* zxids: only their order and identity are compared, never their values. Each zxid is
  named after the reply that first carried it in its ReplyHeader, ``@<session>.<n>`` (n =
  the record's position in its session, shown at the start of every line; a write's own
  new zxid reads ``new``), so a czxid reads "the zxid of A's 5th request". A zxid never
  seen in a header becomes ``@A.5+`` (just after it). Every header zxid also carries its
  relation to the previous header zxid of the trace (``=``, ``>``, ``<``), which checks the
  order and shows which requests consumed a zxid. One extra or missing txn thus changes only
  the lines that show it. DIFF_ZXID=rank switches to plain ranks (z1, z2.. among stat
  zxids; z3+ between). 0 and negative values stay literal.
* ctime/mtime: bound to the txn that set them: ``ctime`` -> ``T(<czxid>)``, ``mtime`` ->
  ``T(<mzxid>)``, after checking trace-wide that equal zxids carry equal times, larger
  zxids never carry smaller times (equal-to / less-than relations), system nodes carry 0
  and all other times lie within the test's wall-clock window. A violation shows as
  ``T?...`` and so differs.
* session ids -> the name of the session that first received them (``A``, ``B``...);
  passwords -> their length and whether they are all zero.
* children / getEphemerals / whoAmI lists are sorted, and so are getACL lists of nodes a
  scenario declares (ACLs built from the ``auth`` scheme); events of a barrier taken with
  ``unordered=True`` are sorted (ZooKeeper's own order is hash order in all these places).

Known, intended differences are listed in ``DEVIATIONS`` and applied explicitly by named
rules before normalisation; every application is printed in the test output.

Modes (environment):
  (default)        reference = Apache ZooKeeper, target = zkd ($ZKD_BIN or <repo>/bin/zkd).
                   Fails (never skips) if either server cannot start.
  DIFF_SELF=1      reference vs reference (validates that normalisation makes two runs of
                   ZooKeeper identical).
  DIFF_REF_ONLY=1  run only the reference and print its normalised traces (debugging).
  DIFF_DUMP=<dir>  also write raw and normalised traces as JSON into <dir>.
  DIFF_ONLY=a,b    run only the named scenarios.
  DIFF_ZXID=rank   name zxids by rank instead of by the request that produced them.
Command line (same modes): python3 test_differential.py [--self|--ref-only] [scenario...]
"""
import bisect
import copy
import difflib
import json
import os
import sys
import threading
import time
import traceback

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkservers  # noqa: E402
import zkwire as zw  # noqa: E402
from zkwire import ops  # noqa: E402

HOST = "127.0.0.1"
OP_TIMEOUT = 5.0        # seconds to wait for a reply that must come
NO_REPLY_WAIT = 1.0     # seconds to wait where a server may legitimately stay silent
CLOSE_WAIT = 1.5        # seconds to wait for the server to close a connection

# ---------------------------------------------------------------------------------------------
# Deviations: intended differences between Apache ZooKeeper 3.8 (Debian 3.8.0-11+deb12u2)
# and zkd. Key: "<scenario or *>/<aspect>". Each is implemented by the rule of the same key in
# DEVIATION_RULES and applied explicitly before normalisation.
# ---------------------------------------------------------------------------------------------

DEVIATIONS = {
    "*/notification-zxid":
        "ZooKeeper <= 3.8 puts zxid -1 in the ReplyHeader of every watch notification; 3.9 "
        "(ZOOKEEPER-4655), which zkd follows, puts the zxid of the triggering txn (-1 only for "
        "setWatches catch-up events). Rule: notification header zxids are blanked on both sides "
        "(before zxids are named).",
    "*/watcher-modes-3.9":
        "ZooKeeper 3.8 knows WatcherType 1-3 only (checkWatches/removeWatches with Persistent 4 "
        "or PersistentRecursive 5 fail with MARSHALLINGERROR), keeps one watch mode per path and "
        "connection (the last addWatch or standard watch wins, so a standard watch that fires "
        "also drops a persistent one) and matches Data/Children/Any without looking at modes. "
        "3.9.0 (ZOOKEEPER-4466, -4471, -4472), which zkd follows, keeps a set of modes per path "
        "and connection: Data/Children match STANDARD watches only, Persistent/"
        "PersistentRecursive match those modes, Any matches all; a recursive watch is not a child "
        "watch. Rule: for records the scenario tags with the 3.9 outcome (DataTree.containsWatcher/"
        "removeWatch of release-3.9.5), the reference's answer is replaced by that outcome, and "
        "reference events delivered through watches that 3.9 would have removed are dropped.",
    "*/multi-create2-result":
        "In ZooKeeper 3.8 a create2 (15) inside multi is executed as a plain create and its "
        "result is a create (1) entry with the path only; 3.9.0 (ZOOKEEPER-4026), which zkd "
        "follows, answers create2 (15) with path and Stat. Rule: such reference results become "
        "create2 entries and their Stat is not compared on either side (3.8 has none).",
    "acl_read_checks/exists-needs-read":
        "ZooKeeper 3.8.0 answers exists on an existing node without checking READ; 3.8.4+/3.9.2+ "
        "(ZOOKEEPER-2590) and zkd answer NOAUTH. Rule: the reference's OK+Stat is rewritten to "
        "NOAUTH.",
    "acl_read_checks/acl-filtered-events":
        "Upstream 3.8.0 delivers watch events on nodes the watching connection may not READ; "
        "3.8.4+/3.9.2+ (CVE-2024-23944) and zkd drop them. Debian's 3.8.0-11+deb12u2 backports the "
        "fix, so with that package this rule finds nothing to change. Rule: reference events for "
        "the scenario's no-READ paths are removed.",
    "acl_ip/ipv6-acl":
        "ZooKeeper before 3.9.4 rejects IPv6 addresses in ip ACLs with INVALIDACL; 3.9.4+ "
        "(ZOOKEEPER-4240), which zkd follows, accepts them (an IPv4 client then does not match). "
        "Rule: for records the scenario tags with the 3.9.4 outcome the reference's error code "
        "is replaced by that outcome and reply bodies are not compared.",
    "opcodes/check-standalone":
        "ZooKeeper 3.8.0 accepts a stand-alone check (opcode 13), consumes a zxid and never "
        "replies; 3.8.5+/3.9.3+ (ZOOKEEPER-2623) and zkd reply UNIMPLEMENTED and close. Rule: "
        "the reference's missing reply becomes UNIMPLEMENTED and its open connection 'closed'.",
    "opcodes/delete-container":
        "ZooKeeper 3.8.0 decodes a deleteContainer (opcode 20) path from the whole request "
        "buffer, RequestHeader included, so from a client it always fails with BADARGUMENTS "
        "(3.9 decodes it and deletes any empty non-ephemeral node without session or ACL "
        "checks); "
        "zkd refuses the opcode from clients with UNIMPLEMENTED. Rule: the reference's error "
        "becomes UNIMPLEMENTED; whether the connection is closed afterwards is not compared.",
    "opcodes/sasl-unimplemented":
        "zkd has no SASL and, as issue 2 requires, answers the sasl opcode (102) with "
        "UNIMPLEMENTED (zxid 0) and keeps the connection; ZooKeeper 3.8 without a SASL server "
        "answers OK with a null token, and closes the connection for a null token. Rule: the "
        "reference's sasl replies become UNIMPLEMENTED, xid/zxid are not compared, and its "
        "connection is taken as left open.",
    "multi/invalid-create-flags":
        "A create with flags outside the CreateMode values inside multi: ZooKeeper 3.8 answers a "
        "per-op BADARGUMENTS; 3.9.5, which zkd follows (protocol.md §7.1), fails decoding the "
        "whole multi with MARSHALLINGERROR. Rule: the reference's multi result becomes "
        "MARSHALLINGERROR without a body.",
}


def _rule_notification_zxid(recs, kind, ctx):
    n = 0
    for r in _all_events(recs):
        z = r.get("zxid")
        # a 3.9-style server must send -1 or a real (positive) zxid; anything else stays visible
        if isinstance(z, int) and (z == -1 or z > 0):
            ctx.detail("event zxid %s blanked" % ("-1" if z == -1 else "<txn zxid>"))
            r["zxid"] = "<notif>"
            n += 1
    return n


def _aspect_records(recs, aspect):
    return [r for r in recs if r.get("aspect") == aspect]


def _rule_watcher_modes(recs, kind, ctx):
    if kind != "zookeeper":
        return 0
    n = 0
    for r in _aspect_records(recs, "watcher-modes-3.9"):
        if r.get("err") != r.get("expect"):
            ctx.detail("%s %s %s type %s: %s -> %s" % (r["s"], r["op"], r["args"].get("path"),
                                                      r["args"].get("type"), r["err"], r["expect"]))
            r["err"] = r["expect"]
            n += 1
    gone = ctx.notes.get("removed_watches")
    if gone:
        for r in list(recs):
            if "event" in r and r["s"] == gone["session"] and r["path"] in gone["paths"]:
                ctx.detail("dropped %s %s event %s" % (r["s"], r["event"], r["path"]))
                recs.remove(r)
                n += 1
    return n


def _rule_multi_create2(recs, kind, ctx):
    n = 0
    for r in recs:
        if r.get("op") != "multi" or not isinstance(r.get("body"), list):
            continue
        for (name, args), res in zip(r["args"]["ops"], r["body"]):
            if name != "create2" or res.get("err") != "OK" or args.get("flags") in (
                    zw.CONTAINER, zw.PERSISTENT_WITH_TTL, zw.PERSISTENT_SEQUENTIAL_WITH_TTL):
                continue                 # container/TTL kinds are answered as create2 by 3.8 too
            if kind == "zookeeper" and res.get("type") == "create":
                ctx.detail("%s multi create2 %s: create result -> create2" % (r["s"], args.get("path")))
                res["type"], res["body"] = "create2", {"path": res.get("body")}
                n += 1
            if isinstance(res.get("body"), dict):
                res["body"]["stat"] = "<not compared>"
                ctx.detail("%s multi create2 %s: Stat not compared" % (r["s"], args.get("path")))
                n += 1
    return n


def _rule_exists_needs_read(recs, kind, ctx):
    if kind != "zookeeper":
        return 0
    n = 0
    for r in _aspect_records(recs, "exists-needs-read"):
        if r.get("err") == "OK":
            ctx.detail("%s exists %s: OK -> NOAUTH" % (r["s"], r["args"].get("path")))
            r["err"], r["body"] = "NOAUTH", None
            n += 1
    return n


def _rule_acl_filtered_events(recs, kind, ctx):
    if kind != "zookeeper":
        return 0
    hidden = set(ctx.notes.get("noread_paths", ()))
    watcher = ctx.notes.get("noread_watcher")
    n = 0
    for r in list(recs):
        if "event" in r and r["s"] == watcher and r["path"] in hidden:
            ctx.detail("dropped %s %s event %s" % (r["s"], r["event"], r["path"]))
            recs.remove(r)
            n += 1
    return n


def _rule_ipv6_acl(recs, kind, ctx):
    n = 0
    for r in _aspect_records(recs, "ipv6-acl"):
        if kind == "zookeeper" and r.get("err") != r.get("expect"):
            ctx.detail("%s %s %s: %s -> %s" % (r["s"], r["op"], r["args"].get("path"), r["err"],
                                                r["expect"]))
            r["err"] = r["expect"]
            n += 1
        if r.get("body") is not None:
            ctx.detail("%s %s %s: body not compared" % (r["s"], r["op"], r["args"].get("path")))
            n += 1
        r["body"] = "<not compared>"
    return n


def _rule_check_standalone(recs, kind, ctx):
    n = 0
    for r in _aspect_records(recs, "check-standalone"):
        if r.get("op") == "check":
            ctx.detail("%s check: xid/zxid (%s/%s) not compared" % (r["s"], r.get("xid"), r.get("zxid")))
            r["xid"], r["zxid"] = "<any>", "<any>"
            n += 1
        if kind == "zookeeper" and r.get("op") == "check" and r.get("err") == zw.TIMEOUT:
            ctx.detail("%s check: no reply -> UNIMPLEMENTED" % r["s"])
            r["err"], r["zxid"], r["xid"] = "UNIMPLEMENTED", "<any>", "<any>"
            n += 1
        elif kind == "zookeeper" and r.get("op") == "closed?" and r.get("closed") is False:
            ctx.detail("%s connection left open -> closed" % r["s"])
            r["closed"] = True
            n += 1
    return n


def _rule_delete_container(recs, kind, ctx):
    n = 0
    for r in _aspect_records(recs, "delete-container"):
        if r.get("op") == "delete_container":
            if kind == "zookeeper" and r.get("err") != "UNIMPLEMENTED":
                ctx.detail("%s deleteContainer %s: %s -> UNIMPLEMENTED"
                           % (r["s"], r["args"].get("path"), r.get("err")))
                r["err"] = "UNIMPLEMENTED"
                n += 1
            ctx.detail("%s deleteContainer: zxid not compared" % r["s"])
            r["zxid"] = "<any>"
            n += 1
        elif r.get("op") == "closed?":
            ctx.detail("%s closed after deleteContainer: %s (not compared)" % (r["s"], r["closed"]))
            r["closed"] = "<either>"
            n += 1
    return n


def _rule_sasl_unimplemented(recs, kind, ctx):
    n = 0
    sasl_sessions = set()
    for r in recs:
        if r.get("op") == "sasl":
            sasl_sessions.add(r["s"])
            ctx.detail("%s sasl: %s, xid/zxid not compared" % (r["s"], r.get("err")))
            r["xid"], r["zxid"] = "<any>", "<any>"
            n += 1
            if kind == "zookeeper" and r.get("err") != "UNIMPLEMENTED":
                r["err"], r["body"] = "UNIMPLEMENTED", None
        elif (kind == "zookeeper" and r.get("op") == "alive?" and r["s"] in sasl_sessions
              and r.get("alive") is False):
            ctx.detail("%s closed after sasl -> taken as open" % r["s"])
            r["alive"] = True
            n += 1
    return n


def _rule_multi_invalid_flags(recs, kind, ctx):
    if kind != "zookeeper":
        return 0
    n = 0
    for r in recs:
        if r.get("op") != "multi":
            continue
        bad = [a.get("path") for name, a in r["args"].get("ops", [])
               if name.startswith("create") and a.get("flags") not in (None,) + tuple(range(7))]
        if bad:
            ctx.detail("%s multi with create flags outside 0..6 (%s): %s -> MARSHALLINGERROR"
                       % (r["s"], ",".join(map(str, bad)), r.get("err")))
            r["err"], r["body"] = "MARSHALLINGERROR", None
            n += 1
    return n


DEVIATION_RULES = {
    "*/notification-zxid": _rule_notification_zxid,
    "*/watcher-modes-3.9": _rule_watcher_modes,
    "*/multi-create2-result": _rule_multi_create2,
    "acl_read_checks/exists-needs-read": _rule_exists_needs_read,
    "acl_read_checks/acl-filtered-events": _rule_acl_filtered_events,
    "acl_ip/ipv6-acl": _rule_ipv6_acl,
    "opcodes/check-standalone": _rule_check_standalone,
    "opcodes/delete-container": _rule_delete_container,
    "opcodes/sasl-unimplemented": _rule_sasl_unimplemented,
    "multi/invalid-create-flags": _rule_multi_invalid_flags,
}
assert set(DEVIATION_RULES) == set(DEVIATIONS)

# scenario -> {deviation key: {kind: [details]}} for the summary
APPLIED = {}


class _RuleCtx:
    def __init__(self, notes):
        self.notes = notes
        self.details = []

    def detail(self, text):
        self.details.append(text)


def apply_deviations(scenario, recs, kind, notes):
    """Apply every deviation rule whose key matches the scenario; returns {key: [details]}."""
    applied = {}
    for key, rule in DEVIATION_RULES.items():
        scope = key.split("/", 1)[0]
        if scope not in ("*", scenario):
            continue
        ctx = _RuleCtx(notes)
        if rule(recs, kind, ctx):
            applied[key] = ctx.details
    return applied


# ---------------------------------------------------------------------------------------------
# Trace recording
# ---------------------------------------------------------------------------------------------

def _plain(v):
    """Decoded zkwire values -> JSON-able structures."""
    if isinstance(v, zw.Stat):
        return dict(v._asdict())
    if isinstance(v, zw.ACL):
        return [v.perms, v.scheme, v.id]
    if isinstance(v, zw.ClientInfo):
        return [v.scheme, v.user]
    if isinstance(v, zw.CreateResult):
        return {"path": v.path, "stat": _plain(v.stat)}
    if isinstance(v, zw.DataResult):
        return {"data": _plain(v.data), "stat": _plain(v.stat)}
    if isinstance(v, zw.ACLResult):
        return {"acl": _plain(v.acl), "stat": _plain(v.stat)}
    if isinstance(v, zw.ChildrenResult):
        return {"children": _plain(v.children), "stat": _plain(v.stat)}
    if isinstance(v, zw.OpResult):
        d = {"type": zw.OP_NAMES.get(v.type, v.type), "err": zw.err_name(v.err)}
        if v.type == zw.OP_ERROR:
            d["code"] = v.body
        elif v.type in (zw.OP_GET_CHILDREN,):
            d["body"] = {"children": _plain(v.body)}
        else:
            d["body"] = _plain(v.body)
        return d
    if isinstance(v, (bytes, bytearray)) and len(v) > 64:
        import hashlib
        return {"len": len(v), "sha1": hashlib.sha1(bytes(v)).hexdigest()[:12]}
    if isinstance(v, (bytes, bytearray)):
        try:
            s = bytes(v).decode("utf-8")
            if all(c.isprintable() for c in s):
                return s
        except UnicodeDecodeError:
            pass
        return {"hex": bytes(v).hex()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, str):
        return v if all(c.isprintable() for c in v) else {"esc": v.encode(
            "utf-8", "surrogatepass").hex()}
    return v


_LIST_BODY_KEY = {"get_children": "children", "get_ephemerals": "ephemerals"}


class Session:
    """A named connection inside a Trace. ``s.<op>(...)`` calls ``zkwire.ops.<op>`` and
    records the reply. Keywords: ``_aspect`` tags the record (for DEVIATIONS), ``_expect``
    stores the outcome a newer ZooKeeper gives (for DEVIATIONS), ``_timeout`` overrides the
    reply wait, ``_xid`` forces the request's xid."""

    def __init__(self, trace, name, client):
        self.t = trace
        self.name = name
        self.c = client
        self._logpos = 0

    def _drain_log(self):
        """Move newly received frames of this connection into the trace."""
        while self._logpos < len(self.c.log):
            kind, item = self.c.log[self._logpos]
            self._logpos += 1
            if kind == "reply" and item.request is not None and item.request.tag == "<probe>":
                continue
            if kind == "event":
                self.t.add({"s": self.name, "event": zw.EVENT_NAMES.get(item.type, item.type),
                            "state": item.state, "path": _plain(item.path), "zxid": item.zxid})
            else:
                self.t.add(self._reply_record(item))

    def _reply_record(self, reply, aspect=None):
        req = reply.request
        rec = {"s": self.name}
        if req is None:
            rec["op"] = "stray-reply"
        else:
            rec["op"] = req.name
            rec["args"] = _plain(req.args)
        if aspect or (req is not None and req.tag):
            rec["aspect"] = aspect or req.tag
        rec["xid"] = reply.xid
        rec["zxid"] = reply.zxid
        rec["err"] = zw.err_name(reply.err)
        body = _plain(reply.body)
        if req is not None and req.name in _LIST_BODY_KEY and isinstance(body, list):
            body = {_LIST_BODY_KEY[req.name]: body}
        rec["body"] = body
        if reply.extra:
            rec["extra"] = reply.extra.hex()
        if reply.decode_error:
            rec["decode_error"] = reply.decode_error
        return rec

    def _wait(self, timeout):
        """Reply wait: after three timeouts in a trace the server is presumed hung and later
        waits are cut short, so that a stuck server fails the test quickly."""
        if timeout is None:
            timeout = OP_TIMEOUT
        return min(timeout, 0.5) if self.t.timeouts >= 3 else timeout

    def _note_timeout(self, reply):
        if reply.err == zw.TIMEOUT:
            self.t.timeouts += 1

    def do(self, req, aspect=None, timeout=None, expect=None):
        """Send one request, record events that precede the reply, then the reply.
        ``expect`` (an error name) is stored in the record for deviation rules that need the
        outcome a newer ZooKeeper would give."""
        req.tag = aspect
        start = len(self.t.records)
        reply = self.c.call(req, timeout=self._wait(timeout))
        self._note_timeout(reply)
        self._drain_log()
        if isinstance(reply.err, str):           # CLOSED / TIMEOUT: not in the client log
            self.t.add(self._reply_record(reply, aspect))
        if expect is not None:
            for r in self.t.records[start:]:
                if r.get("op") == req.name and r.get("s") == self.name:
                    r["expect"] = expect
        return reply

    def probe(self):
        """Ping and record only whether the connection still answers."""
        req = ops.ping()
        req.tag = "<probe>"
        reply = self.c.call(req, timeout=self._wait(None))
        self._note_timeout(reply)
        self._drain_log()
        self.t.add({"s": self.name, "op": "alive?", "alive": reply.err == zw.OK})
        return reply.err == zw.OK

    def pipeline(self, reqs, aspect=None):
        """Send all requests in one write, then read and record the replies in order."""
        for r in reqs:
            r.tag = aspect
        self.c.send_many(reqs)
        out = []
        for _ in reqs:
            reply = self.c.recv(self._wait(None))
            self._note_timeout(reply)
            self._drain_log()
            if isinstance(reply.err, str):
                self.t.add(self._reply_record(reply, aspect))
            out.append(reply)
        return out

    def ping_barrier(self, unordered=False, aspect=None):
        """Ping; notifications that arrive first are recorded (sorted if unordered)."""
        start = len(self.t.records)
        reply = self.c.call(ops.ping(), timeout=self._wait(None))
        self._note_timeout(reply)
        self._drain_log()
        if isinstance(reply.err, str):
            self.t.add(self._reply_record(reply, aspect))
        if unordered:
            evs = [r for r in self.t.records[start:] if "event" in r]
            rest = [r for r in self.t.records[start:] if "event" not in r]
            if evs:
                self.t.records[start:] = [{"s": self.name, "events_unordered": evs}] + rest
        return reply

    def wait_events(self, count, timeout=15.0):
        """Bounded wait until ``count`` notifications arrived (for server-side timers such as
        session expiry); they are recorded as one unordered group."""
        deadline = time.monotonic() + timeout
        have = len(self.c.events)
        while len(self.c.events) - have < count and time.monotonic() < deadline and not self.c.closed:
            self.c.poll(0.05)
        start = len(self.t.records)
        self._drain_log()
        evs = [r for r in self.t.records[start:] if "event" in r]
        rest = [r for r in self.t.records[start:] if "event" not in r]
        self.t.records[start:] = [{"s": self.name, "events_unordered": evs}] + rest

    def closed(self, timeout=CLOSE_WAIT, aspect=None):
        """Record whether the server closes this connection within ``timeout``."""
        res = self.c.wait_closed(timeout)
        self._drain_log()
        rec = {"s": self.name, "op": "closed?", "closed": res}
        if aspect:
            rec["aspect"] = aspect
        self.t.add(rec)
        return res

    def close_socket(self):
        self.c.close()

    @property
    def session_id(self):
        return self.c.session_id

    @property
    def passwd(self):
        return self.c.passwd

    def __getattr__(self, name):
        builder = getattr(ops, name, None)
        if builder is None or name.startswith("_"):
            raise AttributeError(name)

        def call(*a, _aspect=None, _timeout=None, _expect=None, _xid=None, **kw):
            req = builder(*a, **kw)
            if _xid is not None:
                req.xid = _xid
            return self.do(req, aspect=_aspect, timeout=_timeout, expect=_expect)
        return call


class Trace:
    """Records one scenario run against one server. ``connect`` is the client factory."""

    def __init__(self, server):
        self.server = server
        self.records = []
        self.sessions = []
        self.notes = {}
        self._count = {}
        self.timeouts = 0
        self.t_start = int(time.time() * 1000)
        self.t_end = None

    def add(self, rec):
        """Append a record; every non-event record gets ``n``, its position in its session
        (0 = the handshake), which names the zxids it first shows (see normalise)."""
        if "event" not in rec and "events_unordered" not in rec:
            n = self._count.get(rec["s"], -1) + 1
            self._count[rec["s"]] = n
            rec["n"] = n
        self.records.append(rec)

    def note(self, key, value):
        """Scenario metadata for deviation rules (e.g. paths a watcher may not read)."""
        self.notes[key] = value

    def connect(self, name, aspect=None, wait=OP_TIMEOUT, **hs):
        """Open a connection named ``name`` and record its handshake. ``hs`` goes to
        zkwire.Client.handshake (timeout_ms, session_id, passwd, last_zxid, read_only,
        send_read_only). Returns a Session even when the handshake fails (it is recorded)."""
        hs.setdefault("timeout_ms", 30000)
        c = zw.Client(HOST, self.server.port, timeout=OP_TIMEOUT)
        resp = c.handshake(wait=min(wait, 0.5) if self.timeouts >= 3 else wait, **hs)
        if resp is None and not c.closed:
            self.timeouts += 1
        args = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in hs.items()}
        rec = {"s": name, "op": "connect", "args": args}
        if aspect:
            rec["aspect"] = aspect
        if resp is None:
            rec["resp"] = zw.CLOSED if c.closed else zw.TIMEOUT
        else:
            rec["resp"] = {"protocol_version": resp.protocol_version, "timeout": resp.timeout,
                           "session_id": resp.session_id,
                           "passwd": resp.passwd.hex() if resp.passwd is not None else None,
                           "read_only": resp.read_only, "length": resp.length}
        self.add(rec)
        s = Session(self, name, c)
        self.sessions.append(s)
        return s

    def barrier(self, *sessions, unordered=False, aspect=None):
        """Ping the given sessions (default: every open one), recording their pending events."""
        for s in sessions or [s for s in self.sessions if not s.c.closed]:
            s.ping_barrier(unordered=unordered, aspect=aspect)

    def close_all(self):
        for s in self.sessions:
            s.c.close()


# ---------------------------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------------------------

_STAT_ZXID_KEYS = ("czxid", "mzxid", "pzxid")
_STAT_KEYS = set(zw.Stat._fields)


def _walk(obj, fn):
    """Call fn on every dict inside obj (depth first)."""
    if isinstance(obj, dict):
        fn(obj)
        for v in list(obj.values()):
            _walk(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            _walk(v, fn)


def _stats(recs):
    out = []
    _walk(recs, lambda d: out.append(d) if _STAT_KEYS <= set(d) else None)
    return out


def _all_events(recs):
    out = []
    for r in recs:
        if "event" in r:
            out.append(r)
        for e in r.get("events_unordered", ()):
            out.append(e)
    return out


def _is_reply(r):
    return "event" not in r and "events_unordered" not in r and r.get("op") not in (
        "connect", "closed?", "alive?")


def _zxid_namer(recs, stats, how):
    """Return zxid -> symbolic name.

    how="anchor" (default): a zxid is named after the reply that first carried it in its
    header, "@<session>.<n>" (n = the record's position in its session), so a stat's czxid
    reads "the zxid of A's 5th request"; a zxid never seen in a header is named after the
    nearest lower anchor with a "+" ("@A.5+"). One extra or missing txn therefore changes
    only the lines that show it, not every later zxid. Order is still checked: header zxids
    carry their relation (=, >, <) to the previous header zxid.
    how="rank": plain rank among stat zxids (z1, z2...), other zxids by the gap they fall
    in ("z3+").
    """
    def is_z(v):
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    if how == "rank":
        primary = sorted({st[k] for st in stats for k in _STAT_ZXID_KEYS if is_z(st[k])})
        prank = {z: i + 1 for i, z in enumerate(primary)}

        def zname(v):
            if not is_z(v):
                return v
            if v in prank:
                return "z%d" % prank[v]
            return "z%d+" % bisect.bisect_left(primary, v)
        return zname

    anchors = {}
    for r in recs:
        if _is_reply(r) and is_z(r.get("zxid")) and r["zxid"] not in anchors:
            anchors[r["zxid"]] = "@%s.%s" % (r["s"], r.get("n"))
    ordered = sorted(anchors)

    def zname(v):
        if not is_z(v):
            return v
        if v in anchors:
            return anchors[v]
        k = bisect.bisect_left(ordered, v)
        return "%s+" % anchors[ordered[k - 1]] if k else "<first-anchor"
    return zname


def normalise(recs, t_window, notes=None):
    """Normalise a (deviation-adjusted) trace in place and return it."""
    # ---- sessions and passwords
    names = {}
    for r in recs:
        if r.get("op") == "connect" and isinstance(r.get("resp"), dict):
            sid = r["resp"]["session_id"]
            if sid:
                names.setdefault(sid, r["s"])

    def sess_name(v):
        if not isinstance(v, int) or v == 0:
            return v
        return names.get(v, "<unknown-session>")

    for r in recs:
        if r.get("op") == "connect":
            resp = r.get("resp")
            if isinstance(resp, dict):
                resp["session_id"] = sess_name(resp["session_id"])
                pw = resp.get("passwd")
                if pw is not None:
                    resp["passwd"] = {"len": len(pw) // 2, "zero": set(pw) <= {"0"}}
            args = r.get("args", {})
            if "session_id" in args:
                args["session_id"] = sess_name(args["session_id"])
            if "passwd" in args:
                args["passwd"] = "<%d bytes>" % (len(args["passwd"]) // 2)
    for st in _stats(recs):
        st["ephemeralOwner"] = sess_name(st["ephemeralOwner"])

    # ---- zxids
    stats = _stats(recs)
    zname = _zxid_namer(recs, stats, os.environ.get("DIFF_ZXID", "anchor"))

    # ---- times (before renaming zxids: bind each time to its zxid)
    lo, hi = t_window
    ztimes = {}
    for st in stats:
        for zk, tk in (("czxid", "ctime"), ("mzxid", "mtime")):
            ztimes.setdefault(st[zk], set()).add(st[tk])
    bad = {}
    prev_t, prev_z = None, None
    for z in sorted(ztimes):
        ts = ztimes[z]
        if len(ts) != 1:
            bad[z] = "T?several-times-for-one-zxid"
            continue
        tval = next(iter(ts))
        if z == 0:
            if tval != 0:
                bad[z] = "T?system-node-time-not-0"
            continue
        if not (lo <= tval <= hi):
            bad[z] = "T?outside-test-window"
            continue
        if prev_t is not None and tval < prev_t:
            bad[z] = "T?earlier-than-%s" % zname(prev_z)
        prev_t, prev_z = tval, z

    def tname(z):
        return bad.get(z, "T(%s)" % zname(z))

    for st in stats:
        st["ctime"] = tname(st["czxid"])
        st["mtime"] = tname(st["mzxid"])

    # reply-header zxids also carry their relation to the previous reply's header zxid
    # (any session, trace order): '=' (no txn in between), '>' or '<'
    prev = None
    for r in recs:
        if not _is_reply(r):
            continue
        v = r.get("zxid")
        if isinstance(v, int) and not isinstance(v, bool) and v > 0:
            rel = "" if prev is None else (" =" if v == prev else (" >" if v > prev else " <"))
            name = zname(v)
            if name == "@%s.%s" % (r["s"], r.get("n")):
                name = "new"
            r["zxid"] = "%s%s" % (name, rel)
            prev = v

    def rename(d):
        for k in ("zxid", "last_zxid", "relative_zxid") + _STAT_ZXID_KEYS:
            if k in d and isinstance(d[k], int):
                d[k] = zname(d[k])
    _walk(recs, rename)

    # ---- unordered lists
    unordered_acl = set((notes or {}).get("unordered_acl", ()))
    for r in recs:
        if r.get("op") == "who_am_i" and isinstance(r.get("body"), list):
            r["body"] = sorted(r["body"])        # ZooKeeper: hash-set order of auth ids
        path = r.get("args", {}).get("path")
        if (r.get("op") == "get_acl" and isinstance(path, str) and path in unordered_acl
                and isinstance(r.get("body"), dict) and isinstance(r["body"].get("acl"), list)):
            r["body"]["acl"] = sorted(r["body"]["acl"])

    def sort_lists(d):
        for k in ("children", "ephemerals"):
            if isinstance(d.get(k), list):
                d[k] = sorted(d[k], key=lambda x: json.dumps(x, sort_keys=True))
        if isinstance(d.get("events_unordered"), list):
            d["events_unordered"] = sorted(d["events_unordered"],
                                           key=lambda x: json.dumps(x, sort_keys=True))
    _walk(recs, sort_lists)
    return recs


_STAT_ABBR = [("czxid", "cz"), ("mzxid", "mz"), ("pzxid", "pz"), ("ctime", "ct"), ("mtime", "mt"),
              ("version", "v"), ("cversion", "cv"), ("aversion", "av"), ("ephemeralOwner", "eo"),
              ("dataLength", "dl"), ("numChildren", "nc")]


def _compact(v):
    """Stats become one short string so that a diff line shows which field differs; the
    open ACL becomes the word OPEN_ACL."""
    if v == [[zw.PERM_ALL, "world", "anyone"]]:
        return "OPEN_ACL"
    if isinstance(v, dict):
        if _STAT_KEYS <= set(v):
            return "stat(%s)" % " ".join("%s=%s" % (ab, v[k]) for k, ab in _STAT_ABBR)
        return {k: _compact(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_compact(x) for x in v]
    return v


def _j(v):
    return json.dumps(_compact(v), sort_keys=True, ensure_ascii=True)


_ARG_DEFAULTS = {"data": "", "flags": 0, "version": -1, "watch": False}


def _fmt_args(args):
    """Compact request arguments: the path first, defaults (open ACL, empty data, flags 0,
    version -1, no watch) left out."""
    if not isinstance(args, dict):
        return _j(args)
    parts = []
    if "path" in args:
        parts.append(_j(args["path"]))
    for k in sorted(args):
        v = args[k]
        if k == "path" or (k in _ARG_DEFAULTS and _ARG_DEFAULTS[k] is v) or (
                k in _ARG_DEFAULTS and type(v) is type(_ARG_DEFAULTS[k]) and v == _ARG_DEFAULTS[k]):
            continue
        if k == "acl" and _compact(v) == "OPEN_ACL":
            continue
        if k == "ops":
            parts.append("[%s]" % ", ".join("%s %s" % (name, _fmt_args(a)) for name, a in v))
            continue
        parts.append("%s=%s" % (k, _j(v)))
    return " ".join(parts)


def render(recs):
    """Readable lines (what the diff is computed on): one per record, plus one per multi
    result. A reply line reads: <session>.<n> <op> <args> => <err> xid=.. zxid=.. <body>."""
    lines = []
    for r in recs:
        r = dict(r)
        s = r.pop("s", "?")
        if "event" in r:
            lines.append("%s  EVENT %s %s state=%s zxid=%s" % (
                s, r["event"], _j(r["path"]), r["state"], r["zxid"]))
            continue
        if "events_unordered" in r:
            lines.append("%s  EVENTS(unordered) %s" % (s, "; ".join(
                "%s %s zxid=%s" % (e["event"], _j(e["path"]), e["zxid"])
                for e in r["events_unordered"])))
            continue
        who = "%s.%s" % (s, r.pop("n", "?"))
        op = r.pop("op", "?")
        args = r.pop("args", None)
        aspect = r.pop("aspect", None)
        head = "%s %s%s %s" % (who, op, "[%s]" % aspect if aspect else "",
                               _fmt_args(args) if args is not None else "")
        if op == "connect":
            lines.append("%s => %s" % (head, _j(r.get("resp"))))
            continue
        if op in ("closed?", "alive?"):
            lines.append("%s => %s" % (head, " ".join("%s=%s" % kv for kv in sorted(r.items()))))
            continue
        err = r.pop("err", None)
        xid = r.pop("xid", None)
        zxid = r.pop("zxid", None)
        body = r.pop("body", None)
        tail = " ".join("%s=%s" % (k, _j(v)) for k, v in sorted(r.items()))
        multi = op in ("multi", "multi_read") and isinstance(body, list)
        lines.append("%s => %s xid=%s zxid=%s%s%s" % (
            head, err, xid, zxid,
            " <%d results>" % len(body) if multi else (" " + _j(body) if body is not None else ""),
            " " + tail if tail else ""))
        if multi:
            for i, res in enumerate(body):
                typ, rerr = res.get("type", "?"), res.get("err", "?")
                if typ == "error":
                    code = res.get("code")
                    extra = "" if zw.err_name(code) == rerr else " code=%s" % _j(code)
                else:
                    extra = " " + _j(res.get("body"))
                lines.append("%s     [%d] %s %s%s" % (who, i, typ, rerr, extra))
    return lines


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

SCENARIOS = []


class Scenario:
    def __init__(self, fn, cfg, tick_ms):
        self.fn = fn
        self.name = fn.__name__
        self.cfg = cfg or {}
        self.tick_ms = tick_ms


def scenario(cfg=None, tick_ms=2000):
    def deco(fn):
        SCENARIOS.append(Scenario(fn, cfg, tick_ms))
        return fn
    return deco


def _wait_ready(server, timeout=30.0):
    """Until a session can be created (ZooKeeper answers ruok before it serves sessions)."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        if not server.alive():
            raise RuntimeError("%s died during startup; log:\n%s" % (server.kind, server.log()[-4000:]))
        try:
            c = zw.Client(HOST, server.port, timeout=2.0)
            resp = c.handshake(timeout_ms=10000, wait=2.0)
            if resp is not None and resp.session_id:
                c.call(ops.close_session(), timeout=2.0)
                c.close()
                return
            c.close()
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError("%s on port %d never granted a session (%s); log:\n%s"
                       % (server.kind, server.port, last, server.log()[-4000:]))


class RunResult:
    def __init__(self, kind):
        self.kind = kind
        self.raw = None
        self.notes = {}
        self.window = None
        self.error = None
        self.server_log = ""


def run_one(sc, kind):
    """Start a fresh server of ``kind``, run the scenario, stop the server."""
    res = RunResult(kind)
    server = zkservers.Server(kind=kind, cfg=dict(sc.cfg), tick_ms=sc.tick_ms)
    try:
        server.start()
        _wait_ready(server)
    except Exception as e:
        res.error = "%s failed to start: %s" % (kind, e)
        try:
            server.stop(check=False)
        except Exception:
            pass
        return res
    t = Trace(server)
    try:
        sc.fn(t)
    except Exception:
        res.error = "scenario raised on %s:\n%s" % (kind, traceback.format_exc())
    finally:
        t.t_end = int(time.time() * 1000)
        t.close_all()
        if not server.alive():
            res.error = (res.error or "") + "\n%s died during the scenario (rc %s); log tail:\n%s" % (
                kind, server.proc.returncode if server.proc else "?", server.log()[-4000:])
        res.server_log = server.log()[-4000:]
        try:
            server.stop()
        except Exception as e:
            res.error = (res.error or "") + "\nstopping %s: %s" % (kind, e)
    res.raw = t.records
    res.notes = t.notes
    res.window = (t.t_start - 60000, t.t_end + 60000)
    return res


def mode():
    if os.environ.get("DIFF_REF_ONLY"):
        return "ref-only"
    if os.environ.get("DIFF_SELF"):
        return "self"
    return "real"


def kinds_for_mode(m):
    return {"real": ("zookeeper", "zkd"), "self": ("zookeeper", "zookeeper"),
            "ref-only": ("zookeeper",)}[m]


def run_scenario(sc, m=None):
    """Run the scenario on the mode's servers concurrently; returns (results, normalised)."""
    m = m or mode()
    kinds = kinds_for_mode(m)
    results = [None] * len(kinds)

    def worker(i, kind):
        results[i] = run_one(sc, kind)
    threads = [threading.Thread(target=worker, args=(i, k)) for i, k in enumerate(kinds)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    normed = []
    for res in results:
        if res.raw is None:
            normed.append((None, {}))
            continue
        recs = copy.deepcopy(res.raw)
        applied = apply_deviations(sc.name, recs, res.kind, res.notes)
        normed.append((normalise(recs, res.window, res.notes), applied))
    dump = os.environ.get("DIFF_DUMP")
    if dump:
        os.makedirs(dump, exist_ok=True)
        for i, (res, (norm, applied)) in enumerate(zip(results, normed)):
            tag = "%s.%d-%s" % (sc.name, i, res.kind)
            with open(os.path.join(dump, tag + ".raw.json"), "w") as f:
                json.dump(res.raw, f, indent=1, default=str)
            with open(os.path.join(dump, tag + ".norm.jsonl"), "w") as f:
                f.write("\n".join(render(norm or [])) + "\n")
            if res.error:
                with open(os.path.join(dump, tag + ".error.txt"), "w") as f:
                    f.write(res.error)
    return results, normed


def describe_applied(sc_name, normed, kinds):
    lines = []
    for i, ((norm, applied), kind) in enumerate(zip(normed, kinds)):
        side = "reference" if i == 0 else "target"
        for key, details in applied.items():
            APPLIED.setdefault(key, {}).setdefault(sc_name, {})["%s %s" % (side, kind)] = len(details)
            counted = {}
            for d in details:
                counted[d] = counted.get(d, 0) + 1
            text = "; ".join(d if c == 1 else "%s (x%d)" % (d, c) for d, c in counted.items())
            lines.append("  deviation %s applied to %s %s, %d change(s): %s"
                         % (key, side, kind, len(details), text))
    return lines


def compare(sc, results, normed):
    """Returns (ok, report text)."""
    kinds = [r.kind for r in results]
    lines = describe_applied(sc.name, normed, kinds)
    errors = [r for r in results if r.error]
    if errors:
        return False, "\n".join(lines + ["%s: %s" % (r.kind, r.error) for r in errors])
    if len(results) == 1:
        return True, "\n".join(lines)
    a = render(normed[0][0])
    b = render(normed[1][0])
    if a == b:
        return True, "\n".join(lines)
    diff = difflib.unified_diff(a, b, fromfile="%s (reference)" % results[0].kind,
                                tofile="%s (target)" % results[1].kind, lineterm="", n=2)
    return False, "\n".join(lines + ["scenario %s: normalised traces differ:" % sc.name]
                            + list(diff) + ["--- target server log tail ---", results[1].server_log])


# ---------------------------------------------------------------------------------------------
# Scenario helpers
# ---------------------------------------------------------------------------------------------

ALICE = zw.digest_id("alice", "pw")
BOB = zw.digest_id("bob", "pw2")
SUPER_DIGEST = zw.digest_id("super", "secret")


def acl(perms, scheme="world", ident="anyone"):
    return [zw.ACL(perms, scheme, ident)]


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------

@scenario()
def fresh_tree(t):
    """Stats, data, children and ACLs of the nodes a fresh server has."""
    a = t.connect("A")
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]:
        a.get_data(p)
        a.get_children2(p)
        a.get_children(p)
        a.get_acl(p)
        a.exists(p)
        a.get_all_children_number(p)
    a.who_am_i()
    a.sync("/")
    a.get_ephemerals("/")


@scenario()
def paths(t):
    """Path validation on create and the other ops (BADARGUMENTS vs NONODE)."""
    a = t.connect("A")
    a.create("/a", b"x")
    a.create("/a/b", b"")
    bad = ["", "rel", "a/b", "/a/", "//", "/a//b", "/a/./b", "/a/../b", "/.", "/..", "/a/.",
           "/a/..", "/./a", "/a\x00b", "/a\x01", "/a\x1f", "/a\x7f", "/a\x85", "/a\x9f",
           "/a\ud800", "/a\ue000", "/a\uf8ff", "/a\ufff0", "/a\uffff", "/a\U0001F600",
           b"/a\xff", b"/a\xc0\xaf", None]
    good = ["/...", "/a.b", "/.a", "/a..", "/a\uf900", "/a\u00a0", "/a b", "/a/b/c",
            "/zookeeper/x", "/zookeeper/quota/x"]
    for p in bad + good:
        a.create(p, b"")
    # the sequence suffix is appended before validation
    a.create("/a/", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/", b"")
    a.create("/a//", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/a/.", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/nope/", b"")              # parent missing is checked before full validation
    a.create("/a/b/", b"")
    a.get_children("/a")
    a.get_children("/")
    for p in ["rel", "/a/", "/a//b", "/a/./b", "/a\x00b", "", "/", "/a\x01"]:
        a.exists(p)
        a.get_data(p)
        a.get_children(p)
        a.set_data(p, b"y")
        a.get_acl(p)
        a.set_acl(p, zw.OPEN_ACL_UNSAFE)
        a.delete(p)
        a.get_all_children_number(p)
        a.sync(p)


@scenario()
def error_precedence(t):
    """Which error wins when several apply (create/delete/setData/setACL)."""
    a = t.connect("A")
    a.create("/ro", b"")
    a.create("/ro/c", b"")
    a.set_acl("/ro", acl(zw.PERM_READ))
    a.create("/nd", b"")
    a.create("/nd/k", b"")
    a.create("/e", b"", acl(zw.PERM_READ), zw.EPHEMERAL)
    a.create("/e2", b"", flags=zw.EPHEMERAL)
    # create: flags < path without '/' < ACL < parent missing < CREATE perm < full path
    #         < exists < ephemeral parent
    a.create("rel", b"", [], 99)
    a.create("/ro/new", b"", [], 99)
    a.create("rel", b"", [])
    a.create("/missing/x", b"", [])
    a.create("/a//b", b"", [])
    a.create("/missing/x", b"")
    a.create("/ro/x/y", b"")
    a.create("/ro/c", b"")
    a.create("/ro/new", b"")
    a.create("/ro/", b"")
    a.create("/ro/c/", b"")
    a.create("/ro/c/", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/e/x", b"")
    a.create("/e2/x", b"")
    a.create("/e2/", b"")
    a.create("/e2/", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/e2", b"")
    a.create("/e2", b"", flags=zw.EPHEMERAL)
    for f in (7, -1, 100, 0x10):
        a.create("/f", b"", flags=f)
    a.create("/acl-null", b"", None)
    # delete: special paths < parent missing < DELETE perm on parent < node missing < version < children
    for p in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config", "rel", "/missing/x",
              "/ro/missing", "/ro/c", "/nd/", "/missing", "/nd//k"]:
        a.delete(p)
    a.delete("/nd", 5)
    a.delete("/nd", -1)
    a.delete("/nd/k", 3)
    a.delete("/nd/k", 0)
    # setData: path < missing < WRITE < version
    a.set_data("/ro", b"x", 99)
    a.set_data("/missing", b"x", 99)
    a.set_data("/nd", b"x", 99)
    a.set_data("/zookeeper/config", b"x")
    a.set_data("/zookeeper", b"x")
    a.set_data("/zookeeper/quota", b"x", 0)
    # setACL: path < ACL < missing < ADMIN < aversion
    a.set_acl("/missing", [], 99)
    a.set_acl("/missing", zw.OPEN_ACL_UNSAFE, 99)
    a.set_acl("/ro", [], 99)
    a.set_acl("/ro", zw.OPEN_ACL_UNSAFE, 99)
    a.set_acl("/nd", zw.OPEN_ACL_UNSAFE, 99)
    a.set_acl("/zookeeper/config", zw.OPEN_ACL_UNSAFE)
    a.create("/zookeeper/config/x", b"")
    a.create("/zookeeper/quota/q", b"")
    a.get_children2("/zookeeper/quota")
    a.delete("/zookeeper/quota/q")


@scenario()
def stat_rules(t):
    """Exact stat fields through create2/setData/setACL/delete (cversion, pzxid, aversion)."""
    a = t.connect("A")
    a.create2("/s", b"abc")
    a.set_data("/s", b"de")
    a.set_data("/s", b"fgh", 1)
    a.set_data("/s", b"x", 1)
    a.set_acl("/s", acl(zw.PERM_ALL))
    a.set_acl("/s", acl(zw.PERM_ALL), 1)
    a.set_acl("/s", acl(zw.PERM_ALL), 0)
    a.get_data("/s")
    a.create2("/s/c1", b"1")
    a.create2("/s/c2", None)
    a.get_data("/s/c2")
    a.exists("/s")
    a.delete("/s/c1")
    a.get_children2("/s")
    a.create2("/s/c2/g", b"")
    a.exists("/s")
    a.delete("/s/c2/g")
    a.exists("/s")
    a.exists("/s/c2")
    a.set_data("/s", None)
    a.get_data("/s")
    a.set_data("/s", b"")
    a.get_data("/s")
    a.create2("/eph", b"e", flags=zw.EPHEMERAL)
    a.create2("/s/q-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create2("/s/q-", b"", flags=zw.EPHEMERAL_SEQUENTIAL)
    a.get_children2("/s")
    a.get_data("/")
    a.set_data("/", b"root")
    a.get_data("/")
    a.create2("/big", b"z" * 5000)
    a.set_data("/big", b"z" * 100000)
    a.exists("/big")
    a.delete("/s/c2")
    a.get_children2("/s")


@scenario()
def sequential(t):
    """Sequence suffix = parent's child-create counter (creations, including non-sequential)."""
    a = t.connect("A")
    a.create("/q", b"")
    a.create("/q/a", b"")
    a.create("/q/x-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.delete("/q/a")
    a.create("/q/x-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/q/", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/q/e-", b"", flags=zw.EPHEMERAL_SEQUENTIAL)
    a.create("/q/x-0000000001", b"")                     # exists -> NODEEXISTS, no count
    a.create("/q/y-", b"", [], zw.PERSISTENT_SEQUENTIAL)  # INVALIDACL, no count
    a.create("/q/y-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.multi([ops.create("/q/m-", b"", flags=zw.PERSISTENT_SEQUENTIAL),
             ops.create("/q/m-", b"", flags=zw.PERSISTENT_SEQUENTIAL)])
    a.multi([ops.create("/q/f-", b"", flags=zw.PERSISTENT_SEQUENTIAL),
             ops.create("/q/a/b", b"")])                 # fails: counter rolled back
    a.create("/q/z-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create_ttl("/q/t-", b"", flags=zw.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=100000)
    a.create("/seq-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.create("/seq-", b"", flags=zw.PERSISTENT_SEQUENTIAL)
    a.get_children2("/q")
    a.get_children2("/")


@scenario()
def multi(t):
    """multi success/failure: per-op results, RUNTIMEINCONSISTENCY, check, empty multi."""
    a = t.connect("A")
    a.create("/m", b"")
    a.multi([ops.create("/m/a", b"1"), ops.create2("/m/b", b"2"), ops.create("/m/s-", b"",
             flags=zw.PERSISTENT_SEQUENTIAL), ops.set_data("/m", b"v"), ops.check("/m", 1),
             ops.delete("/m/a"), ops.create_container("/m/c", b""),
             ops.create_ttl("/m/t", b"", ttl=50000), ops.create2("/m/e", b"", flags=zw.EPHEMERAL)])
    a.get_children2("/m")
    a.get_data("/m/b")
    a.multi([ops.create("/m/x", b""), ops.create("/m/x", b""), ops.set_data("/m", b"w")])
    a.exists("/m/x")
    a.multi([ops.delete("/nope"), ops.create("/m/y", b"")])
    a.multi([ops.check("/m", 0), ops.set_data("/m", b"w")])
    a.multi([ops.check("/m", 1), ops.set_data("/m", b"w", 1), ops.check("/m", 2)])
    a.multi([ops.check("/nope", 0)])
    a.multi([ops.check("rel", 0)])
    a.multi([ops.check("/m", -1), ops.delete("/m", -1)])
    a.multi([ops.create("/d", b""), ops.create("/d/e", b""), ops.delete("/d/e"), ops.delete("/d")])
    a.exists("/d")
    a.multi([ops.create("/g", b""), ops.create("/g/h", b"", flags=zw.EPHEMERAL),
             ops.create("/g/h/i", b"")])
    a.multi([ops.set_data("/m", b"q", 5), ops.delete("/m/b"), ops.create("rel", b"")])
    a.multi([ops.create("/m/n", b"", [])])
    a.multi([ops.create("/m/n", b"", flags=zw.EPHEMERAL), ops.create("/m/n2", b"", flags=9)])
    a.multi([])
    a.set_acl("/m/b", acl(zw.PERM_READ))
    a.multi([ops.set_data("/m/b", b"z"), ops.create("/m/b/c", b"")])
    a.multi([ops.check("/m/b", 0), ops.delete("/m/b/zz")])
    a.get_data("/m")
    # mixed read/write and an unknown sub-op, each on its own connection (may be closed)
    b = t.connect("B")
    b.multi([ops.create("/mx", b""), ops.get_data("/m")])
    b.closed(0.5)
    c = t.connect("C")
    c.multi([ops.get_data("/m"), ops.exists("/m")])
    c.closed(0.5)
    d = t.connect("D")
    d.multi_read([ops.get_data("/m"), ops.create("/my", b"")])
    d.closed(0.5)
    e = t.connect("E")
    e.exists("/mx")
    e.exists("/my")


@scenario()
def multi_read(t):
    """multiRead: independent per-op results, errors in place, no watches."""
    a = t.connect("A")
    a.create("/r", b"data")
    a.create("/r/c1", b"")
    a.create("/r/c2", b"")
    a.create("/nr", b"secret", acl(zw.PERM_WRITE | zw.PERM_CREATE))
    a.multi_read([ops.get_data("/r"), ops.get_children("/r"), ops.get_data("/nope"),
                  ops.get_children("/nope"), ops.get_data("/nr"), ops.get_children("/nr"),
                  ops.get_data("/r/c1", True), ops.get_children("/", True)])
    a.multi_read([])
    b = t.connect("B")
    b.set_data("/r/c1", b"changed")
    b.create("/new", b"")
    t.barrier()


@scenario()
def watches_oneshot(t):
    """Data, exist (also on a missing node) and child watches; event order across sessions."""
    a = t.connect("A")
    b = t.connect("B")
    a.create("/w", b"a")
    a.create("/w/c1", b"")
    b.get_data("/w", True)
    b.exists("/w", True)
    b.get_children("/w", True)
    b.exists("/nx", True)
    b.get_data("/ny", True)
    b.get_children("/ny", True)
    b.get_children2("/w/c1", True)
    a.set_data("/w", b"b")
    t.barrier()
    a.set_data("/w", b"c")
    t.barrier()
    a.create("/ny", b"")
    a.create("/nx", b"")
    t.barrier()
    a.create("/w/c2", b"")
    t.barrier()
    a.delete("/w/c1")
    t.barrier()
    b.get_data("/w", True)
    b.get_children("/w", True)
    b.exists("/w/c2", True)
    a.delete("/w/c2")
    t.barrier()
    a.delete("/w")
    t.barrier()
    # own writes: the event precedes the reply of the write that triggers it
    a.create("/self", b"")
    a.get_data("/self", True)
    a.exists("/self", True)
    a.get_children("/", True)
    a.set_data("/self", b"1")
    a.delete("/self")
    # a multi fires after all its ops are applied, before its reply
    b.exists("/m1", True)
    b.exists("/m2", True)
    b.get_children("/", True)
    a.exists("/m2", True)
    a.multi([ops.create("/m1", b""), ops.create("/m2", b""), ops.set_data("/m1", b"x")])
    t.barrier()
    # setACL fires nothing; a failed write fires nothing
    b.get_data("/m1", True)
    a.set_acl("/m1", zw.OPEN_ACL_UNSAFE)
    a.set_data("/m1", b"y", 99)
    a.create("/m1", b"")
    t.barrier()
    a.set_data("/m1", b"z")
    t.barrier()


@scenario()
def watches_persistent(t):
    """addWatch persistent / persistent-recursive, checkWatches/removeWatches, NOWATCHER."""
    a = t.connect("A")
    b = t.connect("B")
    b.add_watch("/p", zw.ADD_WATCH_PERSISTENT)
    b.add_watch("/r", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    b.add_watch("/nonexist", zw.ADD_WATCH_PERSISTENT)
    a.create("/p", b"")
    a.create("/p/c", b"")
    a.set_data("/p/c", b"1")
    a.set_data("/p", b"1")
    a.create("/r", b"")
    a.create("/r/x", b"")
    a.create("/r/x/y", b"")
    a.set_data("/r/x/y", b"1")
    a.delete("/r/x/y")
    t.barrier()
    a.delete("/p/c")
    t.barrier()
    a.set_data("/p", b"3")
    t.barrier()
    # standard watches only: checkWatches / removeWatches with Data, Children, Any
    a.create("/q", b"")
    b.get_data("/q", True)
    b.check_watches("/q", zw.WATCHER_DATA)
    b.check_watches("/q", zw.WATCHER_CHILDREN)
    b.remove_watches("/q", zw.WATCHER_DATA)
    b.check_watches("/q", zw.WATCHER_DATA)
    b.remove_watches("/q", zw.WATCHER_DATA)
    a.set_data("/q", b"x")
    t.barrier()
    b.get_children("/q", True)
    b.get_data("/q", True)
    b.remove_watches("/q", zw.WATCHER_CHILDREN)
    b.check_watches("/q", zw.WATCHER_CHILDREN)
    b.check_watches("/q", zw.WATCHER_DATA)
    b.check_watches("/q", zw.WATCHER_ANY)
    b.remove_watches("/q", zw.WATCHER_ANY)
    b.check_watches("/q", zw.WATCHER_ANY)
    b.remove_watches("/q", zw.WATCHER_ANY)
    a.create("/q/k", b"")
    a.set_data("/q", b"y")
    t.barrier()
    b.exists("/nx", True)
    b.check_watches("/nx", zw.WATCHER_DATA)
    b.check_watches("/nx", zw.WATCHER_CHILDREN)
    b.remove_watches("/nx", zw.WATCHER_DATA)
    b.remove_watches("/zz", zw.WATCHER_ANY)
    b.check_watches("/zz", zw.WATCHER_DATA)
    a.create("/r/z", b"")
    a.create("/nx", b"")
    t.barrier()
    # a recursive watch on / sees everything below, including /zookeeper writes
    c = t.connect("C")
    c.add_watch("/", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    a.create("/top", b"")
    a.create("/top/k", b"")
    a.set_data("/top/k", b"1")
    a.delete("/top/k")
    a.create("/zookeeper/w", b"")
    a.multi([ops.create("/m1", b""), ops.create("/m1/m2", b""), ops.delete("/m1/m2")])
    t.barrier()
    # watch modes as 3.9 separates them (see DEVIATIONS */watcher-modes-3.9)
    d = t.connect("D")
    d.add_watch("/pp", zw.ADD_WATCH_PERSISTENT)
    d.add_watch("/rr", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    m = "watcher-modes-3.9"
    for path, typ, exp in [("/pp", zw.WATCHER_PERSISTENT, "OK"),
                           ("/pp", zw.WATCHER_PERSISTENT_RECURSIVE, "NOWATCHER"),
                           ("/pp", zw.WATCHER_DATA, "NOWATCHER"),
                           ("/pp", zw.WATCHER_CHILDREN, "NOWATCHER"),
                           ("/pp", zw.WATCHER_ANY, "OK"),
                           ("/rr", zw.WATCHER_PERSISTENT_RECURSIVE, "OK"),
                           ("/rr", zw.WATCHER_PERSISTENT, "NOWATCHER"),
                           ("/rr", zw.WATCHER_DATA, "NOWATCHER"),
                           ("/rr", zw.WATCHER_CHILDREN, "NOWATCHER"),
                           ("/rr", zw.WATCHER_ANY, "OK")]:
        d.check_watches(path, typ, _aspect=m, _expect=exp)
    d.remove_watches("/pp", zw.WATCHER_PERSISTENT, _aspect=m, _expect="OK")
    d.check_watches("/pp", zw.WATCHER_PERSISTENT, _aspect=m, _expect="NOWATCHER")
    d.check_watches("/pp", zw.WATCHER_ANY, _aspect=m, _expect="NOWATCHER")
    d.remove_watches("/pp", zw.WATCHER_PERSISTENT, _aspect=m, _expect="NOWATCHER")
    d.remove_watches("/rr", zw.WATCHER_PERSISTENT_RECURSIVE, _aspect=m, _expect="OK")
    d.check_watches("/rr", zw.WATCHER_ANY, _aspect=m, _expect="NOWATCHER")
    t.note("removed_watches", {"session": "D", "paths": ["/pp", "/rr", "/rr/x"]})
    a.create("/pp", b"")
    a.create("/pp/k", b"")
    a.set_data("/pp", b"1")
    a.create("/rr", b"")
    a.create("/rr/x", b"")
    t.barrier(d)
    # several modes on one path (3.8 keeps only the last mode set per path and connection;
    # firing a standard watch there also drops the persistent one): one event per trigger,
    # then the modes that 3.9 still holds
    e = t.connect("E")
    a.create("/both", b"")
    e.add_watch("/both", zw.ADD_WATCH_PERSISTENT)
    e.add_watch("/both", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    e.get_data("/both", True)
    e.check_watches("/both", zw.WATCHER_DATA, _aspect=m, _expect="OK")
    e.check_watches("/both", zw.WATCHER_CHILDREN, _aspect=m, _expect="NOWATCHER")
    e.check_watches("/both", zw.WATCHER_PERSISTENT, _aspect=m, _expect="OK")
    e.check_watches("/both", zw.WATCHER_PERSISTENT_RECURSIVE, _aspect=m, _expect="OK")
    a.set_data("/both", b"1")
    t.barrier(e)
    e.check_watches("/both", zw.WATCHER_DATA, _aspect=m, _expect="NOWATCHER")
    e.check_watches("/both", zw.WATCHER_PERSISTENT, _aspect=m, _expect="OK")
    e.check_watches("/both", zw.WATCHER_PERSISTENT_RECURSIVE, _aspect=m, _expect="OK")
    e.remove_watches("/both", zw.WATCHER_ANY, _aspect=m, _expect="OK")
    e.check_watches("/both", zw.WATCHER_ANY, _aspect=m, _expect="NOWATCHER")


@scenario()
def set_watches(t):
    """setWatches / setWatches2 catch-up events on a new connection (relativeZxid older than
    the changes) and re-armed watches afterwards."""
    a = t.connect("A")
    for p in ["/d1", "/d2", "/d3", "/c1", "/c1/k", "/c2", "/gone", "/p", "/r"]:
        a.create(p, b"x")
    rel = a.get_data("/d3").zxid or 0
    b = t.connect("B")
    b.set_data("/d1", b"y")
    b.delete("/d2")
    b.create("/e1", b"")
    b.create("/c1/k2", b"")
    b.delete("/gone")
    c = t.connect("C")
    c.set_watches(rel, data=["/d1", "/d2", "/d3", "/dx"], exist=["/e1", "/e2", "/d3"],
                  child=["/c1", "/c2", "/gone", "/cx"])
    b.set_data("/d3", b"z")
    b.create("/e2", b"")
    b.create("/c2/k", b"")
    b.set_data("/d1", b"w")
    t.barrier()
    # relativeZxid = current: nothing to catch up; 0: everything that exists changed
    cur = b.exists("/d1").zxid or 0
    d = t.connect("D")
    d.set_watches(cur, data=["/d1"], exist=["/e1"], child=["/c1"], xid=zw.XID_SET_WATCHES)
    e = t.connect("E")
    e.set_watches(0, data=["/d1"], exist=[], child=["/c1", "/zookeeper"])
    b.set_data("/d1", b"v")
    t.barrier()
    # setWatches2: persistent lists are re-armed without catch-up
    f = t.connect("F")
    f.set_watches2(rel, data=["/d1"], exist=["/nx"], child=[], persistent=["/p"],
                   recursive=["/r"])
    f.check_watches("/p", zw.WATCHER_PERSISTENT, _aspect="watcher-modes-3.9", _expect="OK")
    f.check_watches("/r", zw.WATCHER_PERSISTENT_RECURSIVE, _aspect="watcher-modes-3.9",
                    _expect="OK")
    f.check_watches("/d1", zw.WATCHER_DATA)
    f.check_watches("/nx", zw.WATCHER_DATA)
    b.create("/p/k", b"")
    b.set_data("/p", b"1")
    b.create("/r/a", b"")
    b.create("/r/a/b", b"")
    b.set_data("/p", b"2")
    b.create("/nx", b"")
    t.barrier()
    g = t.connect("G")
    g.set_watches2(0, [], [], [], [], [])
    g.set_watches(0, None, None, None)


@scenario()
def acl_digest(t):
    """digest and auth schemes, accumulation of ids, getACL redaction, INVALIDACL."""
    a = t.connect("A")
    a.who_am_i()
    a.auth("digest", "alice:pw")
    a.who_am_i()
    a.create("/d", b"d", [zw.ACL(zw.PERM_ALL, "digest", ALICE), zw.ACL(zw.PERM_READ, "world", "anyone")])
    a.create("/d2", b"", zw.CREATOR_ALL_ACL)
    a.create("/d3", b"", [zw.ACL(zw.PERM_READ | zw.PERM_WRITE, "auth", None)])
    a.create("/d4", b"", [zw.ACL(zw.PERM_READ, "digest", ALICE), zw.ACL(zw.PERM_READ, "digest", BOB),
                          zw.ACL(zw.PERM_ALL, "world", "anyone")])
    a.get_acl("/d")
    a.get_acl("/d2")
    a.get_acl("/d3")
    b = t.connect("B")
    b.get_data("/d")
    b.set_data("/d", b"x")
    b.get_acl("/d")
    b.get_acl("/d4")
    b.create("/b1", b"", zw.CREATOR_ALL_ACL)
    b.auth("digest", "alice:wrong")
    b.who_am_i()
    b.set_data("/d", b"x")
    b.auth("digest", "alice:pw")
    b.who_am_i()
    b.set_data("/d", b"x")
    b.get_acl("/d")
    b.get_data("/d2")
    a.auth("digest", "bob:pw2")
    a.auth("digest", "bob:pw2")
    a.who_am_i()
    a.create("/d5", b"", zw.CREATOR_ALL_ACL)
    a.get_acl("/d5")
    a.set_acl("/d", [zw.ACL(zw.PERM_ALL, "auth", ""), zw.ACL(zw.PERM_READ, "world", "anyone")])
    a.get_acl("/d")
    # "auth" expands to the session's ids in ZooKeeper's hash-set order: compared sorted
    t.note("unordered_acl", ["/d5", "/d"])
    # INVALIDACL
    for bad in ([], None, acl(zw.PERM_ALL, "world", "someone"), acl(zw.PERM_ALL, "foo", "bar"),
                acl(zw.PERM_ALL, "digest", "nocolon"), acl(zw.PERM_ALL, "digest", "a:b:c"),
                acl(zw.PERM_ALL, "super", ""), acl(zw.PERM_ALL, "", "")):
        a.create("/inv", b"", bad)
        a.set_acl("/d", bad)
    # odd but valid
    a.create("/dup", b"", acl(zw.PERM_ALL) + acl(zw.PERM_ALL))
    a.get_acl("/dup")
    a.create("/zero", b"", acl(0))
    a.get_acl("/zero")
    a.get_data("/zero")
    a.create("/zero/c", b"")
    a.create("/mixed", b"", acl(zw.PERM_READ) + acl(zw.PERM_ALL))
    a.get_acl("/mixed")
    c = t.connect("C")
    c.auth("digest", "nocolon")
    c.who_am_i()
    c.auth("digest", "")
    c.who_am_i()
    c.create("/c1", b"", zw.CREATOR_ALL_ACL)
    c.get_acl("/c1")


@scenario()
def acl_ip(t):
    """ip scheme: exact address, CIDR, non-matching, malformed; ip auth packets."""
    a = t.connect("A")
    cases = [("ip1", "127.0.0.1"), ("ip2", "10.0.0.1"), ("ip3", "127.0.0.0/8"), ("ip4", "10.0.0.0/8"),
             ("ip5", "127.0.0.1/32"), ("ip6", "0.0.0.0/0"), ("ip7", "127.0.0.2/31")]
    for name, ident in cases:
        a.create("/" + name, b"v", [zw.ACL(zw.PERM_ALL, "ip", ident)] + acl(zw.PERM_READ))
    for name, _ in cases:
        a.set_data("/" + name, b"w")
        a.get_acl("/" + name)
    # IPv6 ids (3.9.4+, see DEVIATIONS acl_ip/ipv6-acl)
    v6 = "ipv6-acl"
    a.create("/ip8", b"v", [zw.ACL(zw.PERM_ALL, "ip", "::1")] + acl(zw.PERM_READ), _aspect=v6,
             _expect="OK")
    a.create("/ip9", b"v", [zw.ACL(zw.PERM_ALL, "ip", "fe80::/10")] + acl(zw.PERM_READ),
             _aspect=v6, _expect="OK")
    a.set_data("/ip8", b"w", _aspect=v6, _expect="NOAUTH")
    a.get_acl("/ip8", _aspect=v6, _expect="OK")
    a.create("/ipa", b"", [zw.ACL(zw.PERM_ALL, "ip", "::1/129")], _aspect=v6, _expect="INVALIDACL")
    for bad in ["999.1.1.1", "127.0.0.1/33", "abc", "", "127.0.0.1/", "1.2.3"]:
        a.create("/ipbad", b"", [zw.ACL(zw.PERM_ALL, "ip", bad)])
    a.auth("ip", "10.1.1.1")
    a.who_am_i()
    a.set_data("/ip2", b"z")
    a.create("/ipauth", b"", zw.CREATOR_ALL_ACL)


@scenario()
def acl_read_checks(t):
    """READ/ADMIN/WRITE/CREATE checks per op, incl. exists/getACL (3.9 fix) and
    ACL-filtered watch events."""
    a = t.connect("A")
    a.create("/r", b"r", acl(zw.PERM_READ))
    a.create("/nr", b"n", acl(zw.PERM_WRITE | zw.PERM_CREATE | zw.PERM_DELETE))
    a.create("/ad", b"a", acl(zw.PERM_ADMIN))
    a.create("/cr", b"c", acl(zw.PERM_CREATE))
    b = t.connect("B")
    for p in ["/r", "/nr", "/ad", "/cr"]:
        b.get_data(p)
        b.get_children(p)
        b.get_children2(p)
        b.get_all_children_number(p)
        b.exists(p, _aspect="exists-needs-read" if p in ("/nr", "/ad", "/cr") else None)
        b.get_acl(p)
        b.set_data(p, b"x")
        b.set_acl(p, acl(zw.PERM_ALL), 99)
        b.create(p + "/k", b"")
        b.delete(p + "/k")
        b.multi([ops.check(p, 0)])
        b.multi_read([ops.get_data(p)])
        b.sync(p)
        b.add_watch(p)
    # ACL-filtered events: C watches everything; /sec/hidden is unreadable for C
    c = t.connect("C")
    c.add_watch("/", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    c.get_children("/sec", True)
    a.auth("digest", "alice:pw")
    a.create("/sec", b"", zw.OPEN_ACL_UNSAFE)
    a.create("/sec/hidden", b"", [zw.ACL(zw.PERM_ALL, "digest", ALICE)])
    a.create("/sec/open", b"", zw.OPEN_ACL_UNSAFE)
    a.set_data("/sec/hidden", b"1")
    a.set_data("/sec/open", b"1")
    a.delete("/sec/hidden")
    a.delete("/sec/open")
    t.note("noread_paths", ["/sec/hidden"])
    t.note("noread_watcher", "C")
    t.barrier(c)


@scenario()
def auth_failed(t):
    """Unknown auth scheme -> AUTHFAILED then the connection is closed."""
    a = t.connect("A")
    a.auth("foo", "bar")
    a.closed()
    a.get_data("/")
    b = t.connect("B")
    b.auth("world", "anyone")
    b.closed()
    c = t.connect("C")
    c.create("/x", b"")
    c.auth("", "x")
    c.closed()
    d = t.connect("D")
    d.exists("/x")
    d.auth("digest", "u:p", type=7)
    d.who_am_i()


@scenario(cfg={"DigestAuthenticationProvider.superDigest": SUPER_DIGEST})
def super_digest(t):
    """DigestAuthenticationProvider.superDigest grants every permission."""
    a = t.connect("A")
    a.create("/locked", b"l", [zw.ACL(zw.PERM_ALL, "digest", zw.digest_id("nobody", "pw"))])
    a.create("/locked2", b"", [zw.ACL(zw.PERM_ALL, "digest", zw.digest_id("nobody", "pw"))])
    a.get_data("/locked")
    a.get_acl("/locked")
    s = t.connect("S")
    s.auth("digest", "super:secret")
    s.who_am_i()
    s.get_data("/locked")
    s.get_acl("/locked")
    s.set_data("/locked", b"m")
    s.create("/locked/c", b"")
    s.delete("/locked/c")
    s.set_acl("/locked", acl(zw.PERM_READ))
    s.set_data("/zookeeper/config", b"")
    s.get_data("/zookeeper/config")
    s.create("/sup", b"", zw.CREATOR_ALL_ACL)
    s.get_acl("/sup")
    s.delete("/locked2")
    w = t.connect("W")
    w.auth("digest", "super:wrong")
    w.who_am_i()
    w.get_data("/locked")
    w.set_data("/locked", b"n")


@scenario()
def handshake(t):
    """Timeout negotiation, readOnly byte, resume, wrong password, zxid ahead of server."""
    for ms in (1, 3999, 4000, 10000, 40000, 40001, 0, -5, 2 ** 31 - 1):
        s = t.connect("T%d" % ms, timeout_ms=ms)
        s.close_session()
    n = t.connect("N", send_read_only=False)
    n.exists("/")
    r = t.connect("R", read_only=True)
    r.create("/ro-client", b"")
    a = t.connect("A", timeout_ms=10000)
    a.create("/eph", b"", flags=zw.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    zx = a.exists("/eph").zxid or 0
    a.close_socket()
    a2 = t.connect("A2", timeout_ms=20000, session_id=sid, passwd=pw, last_zxid=zx)
    a2.exists("/eph")
    a2.get_ephemerals("/")
    a2.create("/eph2", b"", flags=zw.EPHEMERAL)
    a3 = t.connect("A3", timeout_ms=10000, session_id=sid, passwd=pw, send_read_only=False)
    a3.get_ephemerals("/")
    a2.closed(0.5)
    w = t.connect("W", session_id=sid, passwd=b"\x01" * 16)
    w.closed()
    u = t.connect("U", session_id=0x7123456789, passwd=b"\x00" * 16)
    u.closed()
    z = t.connect("Z", last_zxid=1 << 40, wait=CLOSE_WAIT)
    z.closed()
    z2 = t.connect("Z2", last_zxid=zx, session_id=sid, passwd=pw)
    z2.get_ephemerals("/")
    z2.close_session()
    x = t.connect("X", session_id=sid, passwd=pw)
    x.closed()
    y = t.connect("Y")
    y.exists("/eph")
    y.exists("/eph2")


@scenario(cfg={"minSessionTimeout": "5000", "maxSessionTimeout": "8000"})
def handshake_bounds(t):
    """minSessionTimeout / maxSessionTimeout clamp the requested timeout."""
    for ms in (1, 4999, 5000, 6000, 8000, 8001, 100000):
        s = t.connect("T%d" % ms, timeout_ms=ms)
        s.close_session()


@scenario()
def close_session(t):
    """closeSession deletes the session's ephemerals, fires their watches, bumps pzxid."""
    a = t.connect("A")
    a.create("/p", b"")
    a.create("/p/e1", b"", flags=zw.EPHEMERAL)
    a.create("/e2", b"", flags=zw.EPHEMERAL)
    a.create("/p/s-", b"", flags=zw.EPHEMERAL_SEQUENTIAL)
    a.get_ephemerals("/")
    b = t.connect("B")
    b.exists("/p/e1", True)
    b.get_data("/e2", True)
    b.get_children("/p", True)
    b.get_children("/", True)
    b.exists("/p", True)
    c = t.connect("C")
    c.add_watch("/p", zw.ADD_WATCH_PERSISTENT_RECURSIVE)
    sid, pw = a.session_id, a.passwd
    a.close_session()
    a.closed()
    t.barrier(b, unordered=True)
    t.barrier(c, unordered=True)
    b.exists("/p/e1")
    b.get_children2("/p")
    b.get_children2("/")
    x = t.connect("X", session_id=sid, passwd=pw)
    x.closed()
    # a session closed by dropping the socket keeps its ephemerals (until expiry)
    d = t.connect("D")
    d.create("/d-eph", b"", flags=zw.EPHEMERAL)
    d.close_socket()
    b.exists("/d-eph")


@scenario(tick_ms=200)
def session_expiry(t):
    """A session that stops pinging expires: its ephemerals go, watchers are told, and a
    resume attempt is answered as expired (tickTime 200 ms, so the minimum timeout is 400)."""
    a = t.connect("A", timeout_ms=400)
    a.create("/e", b"", flags=zw.EPHEMERAL)
    a.create("/p", b"")
    a.create("/p/e", b"", flags=zw.EPHEMERAL)
    sid, pw = a.session_id, a.passwd
    b = t.connect("B", timeout_ms=30000)
    b.exists("/e", True)
    b.get_children("/p", True)
    b.get_data("/p/e", True)
    a.close_socket()
    b.wait_events(3)
    b.exists("/e")
    b.get_children2("/p")
    x = t.connect("X", session_id=sid, passwd=pw, timeout_ms=400)
    x.closed()


@scenario()
def containers_ttl(t):
    """createContainer / createTTL results and argument errors (extendedTypesEnabled=true).
    (Not sent: createTTL with a non-TTL mode and ttl -1, which makes ZooKeeper 3.8.0 exit.)"""
    a = t.connect("A")
    a.create_container("/c", b"c")
    a.get_data("/c")
    a.create2("/c/x", b"")
    a.exists("/c")
    a.create_ttl("/t", b"t", ttl=10000)
    a.exists("/t")
    a.create_ttl("/ts-", b"", flags=zw.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=5000)
    a.create_ttl("/tmax", b"", ttl=(1 << 40) - 1)
    a.create_ttl("/t/k", b"", ttl=1000)
    a.create("/c/e", b"", flags=zw.EPHEMERAL)
    a.get_children2("/c")
    a.get_ephemerals("/")
    # odd combinations, one connection each (a server may close on any of them)
    cases = [("create_container", "/c2", zw.PERSISTENT, None),
             ("create_container", "/c3", zw.EPHEMERAL, None),
             ("create_container", "/c6", zw.PERSISTENT_WITH_TTL, None),
             ("create", "/c4", zw.CONTAINER, None), ("create2", "/c5", zw.CONTAINER, None),
             ("create", "/t5", zw.PERSISTENT_WITH_TTL, None),
             ("create2", "/t6", zw.PERSISTENT_SEQUENTIAL_WITH_TTL, None),
             ("create_ttl", "/tt", zw.PERSISTENT_WITH_TTL, 0),
             ("create_ttl", "/tt", zw.PERSISTENT_WITH_TTL, -1),
             ("create_ttl", "/tt", zw.PERSISTENT_WITH_TTL, 1 << 40),
             ("create_ttl", "/tt", zw.PERSISTENT_SEQUENTIAL_WITH_TTL, 0),
             ("create_ttl", "/tt", zw.PERSISTENT, 1000), ("create_ttl", "/tt", zw.EPHEMERAL, 1000),
             ("create_ttl", "/tt", zw.PERSISTENT_SEQUENTIAL, 1000),
             ("create_ttl", "/tt", zw.CONTAINER, 1000), ("create_ttl", "/tt", 7, 1000)]
    for i, (op, path, flags, ttl) in enumerate(cases):
        s = t.connect("K%d" % i)
        kw = {"ttl": ttl} if ttl is not None else {}
        getattr(s, op)(path, b"", flags=flags, **kw)
        s.probe()
    a.get_children2("/")
    a.multi([ops.create_container("/mc", b""), ops.create_ttl("/mt", b"", ttl=1000),
             ops.create2("/m2", b""), ops.create2("/m4", b"", flags=zw.CONTAINER),
             ops.create("/m5", b"", flags=zw.PERSISTENT_WITH_TTL)])
    a.multi([ops.create_container("/mc", b""), ops.create_ttl("/mt", b"", ttl=1000),
             ops.create2("/m2", b""), ops.create2("/m4", b"", flags=zw.CONTAINER)])


@scenario(cfg={"extendedTypesEnabled": "false"})
def ttl_disabled(t):
    """createTTL with extendedTypesEnabled=false -> UNIMPLEMENTED; containers still work."""
    a = t.connect("A")
    a.create_ttl("/t", b"", ttl=10000)
    a.create_ttl("/t", b"", ttl=0)
    a.create_ttl("/t", b"", flags=zw.PERSISTENT, ttl=1000)
    a.create("/t", b"", flags=zw.PERSISTENT_WITH_TTL)
    a.multi([ops.create_ttl("/t", b"", ttl=1000)])
    a.create_container("/c", b"")
    a.exists("/t")


@scenario()
def ephemerals_misc(t):
    """getEphemerals prefix semantics, getAllChildrenNumber, whoAmI, sync."""
    a = t.connect("A")
    b = t.connect("B")
    a.create("/x", b"")
    a.create("/x/y", b"")
    for p in ["/eph-a", "/eph-ab", "/x/eph", "/x/y/eph", "/ephx"]:
        a.create(p, b"", flags=zw.EPHEMERAL)
    b.create("/eph-b", b"", flags=zw.EPHEMERAL)
    for prefix in ["/eph-a", "/eph", "", "/", None, "/x", "/x/", "/x/y", "/nomatch", "eph", "/e"]:
        a.get_ephemerals(prefix)
    b.get_ephemerals("/")
    for p in ["/", "/x", "/x/y", "/x/y/eph", "/missing", "/zookeeper"]:
        a.get_all_children_number(p)
    a.who_am_i()
    for p in ["/", "/x", "/missing", "rel", ""]:
        a.sync(p)


@scenario()
def reconfig(t):
    """reconfig with reconfigEnabled=false (default)."""
    a = t.connect("A")
    a.reconfig()
    a.reconfig("server.2=127.0.0.1:2888:3888;2182", None, None, -1)
    a.reconfig(None, "1", None, 5)
    a.get_data("/zookeeper/config")


@scenario(cfg={"reconfigEnabled": "true"})
def reconfig_enabled(t):
    """reconfig on a standalone server with reconfigEnabled=true."""
    a = t.connect("A")
    a.reconfig()
    a.reconfig("server.2=127.0.0.1:2888:3888;2182", None, None, -1)
    a.get_data("/zookeeper/config")


@scenario()
def opcodes(t):
    """sasl without SASL, unknown opcodes, stand-alone check, deleteContainer, special xids."""
    a = t.connect("A")
    a.create("/n", b"")
    a.create("/dc", b"")
    a.create("/dcfull", b"")
    a.create("/dcfull/k", b"")
    a.auth("digest", "u:p", xid=77)
    a.ping(xid=55)
    a.exists("/n", _xid=0)
    a.exists("/n", _xid=-8)
    a.get_data("/n", _xid=2 ** 31 - 1)
    a.who_am_i()
    for i, token in enumerate([b"token", b"", None]):
        s = t.connect("SASL%d" % i)
        s.sasl(token)
        s.probe()
    for op in (99, 10, 0, 23, 108, 1000, -1, -3, 0x7FFFFFFF):
        s = t.connect("U%d" % op)
        s.raw(op, b"\x00\x00\x00\x00", _timeout=NO_REPLY_WAIT)
        s.closed()
    ch = t.connect("CHK")
    ch.check("/n", 0, _aspect="check-standalone", _timeout=NO_REPLY_WAIT)
    ch.closed(aspect="check-standalone")
    for p in ["/dc", "/dcfull", "/missing"]:
        dc = t.connect("DC" + p[1:])
        dc.delete_container(p, _aspect="delete-container")
        dc.closed(0.5, aspect="delete-container")
    v = t.connect("V")
    v.exists("/dc")
    v.exists("/dcfull")


@scenario()
def pipeline(t):
    """Many requests in one write, answered in order, own watch events in between."""
    a = t.connect("A")
    b = t.connect("B")
    b.exists("/pl", True)
    reqs = [ops.create("/pl", b"0"), ops.get_data("/pl", True), ops.set_data("/pl", b"1"),
            ops.get_data("/pl"), ops.exists("/pl", True), ops.set_data("/pl", b"2", 1),
            ops.set_data("/pl", b"3", 1), ops.create("/pl/s-", b"", flags=zw.PERSISTENT_SEQUENTIAL),
            ops.create("/pl/s-", b"", flags=zw.PERSISTENT_SEQUENTIAL),
            ops.get_children2("/pl", True),
            ops.create("/pl/s-", b"", flags=zw.EPHEMERAL_SEQUENTIAL), ops.delete("/pl/s-0000000000"),
            ops.get_children("/pl"), ops.multi([ops.create("/pl/m", b""), ops.set_data("/pl", b"4")]),
            ops.sync("/pl"), ops.ping(), ops.get_all_children_number("/pl"),
            ops.check_watches("/pl", zw.WATCHER_ANY), ops.who_am_i(), ops.get_data("/nope"),
            ops.create("/pl", b""), ops.exists("/pl"), ops.get_ephemerals("/pl"),
            ops.multi_read([ops.get_data("/pl"), ops.get_children("/pl")]),
            ops.delete("/pl/m"), ops.get_acl("/pl"), ops.set_acl("/pl", zw.OPEN_ACL_UNSAFE, 0)]
    a.pipeline(reqs)
    t.barrier(b)
    many = []
    for i in range(25):
        many.append(ops.set_data("/pl", b"%d" % i))
        many.append(ops.get_data("/pl"))
    a.pipeline(many)
    b.pipeline([ops.get_data("/pl", True), ops.exists("/nothing", True), ops.get_children("/pl", True)])
    a.pipeline([ops.delete("/pl/s-0000000001"), ops.set_data("/pl", b"x"), ops.create("/nothing", b""),
                ops.get_data("/pl")])
    t.barrier(b)


# ---------------------------------------------------------------------------------------------
# pytest entry points
# ---------------------------------------------------------------------------------------------

def _selected():
    only = os.environ.get("DIFF_ONLY")
    if not only:
        return SCENARIOS
    names = set(only.split(","))
    return [s for s in SCENARIOS if s.name in names]


@pytest.mark.parametrize("sc", _selected(), ids=lambda s: s.name)
def test_differential(sc, capsys):
    m = mode()
    t0 = time.time()
    results, normed = run_scenario(sc, m)
    ok, report = compare(sc, results, normed)
    with capsys.disabled():
        verdict = ("recorded" if m == "ref-only" else "same") if ok else "DIFFERENT"
        head = "\n[differential %s] %s: %s in %.1fs" % (m, sc.name, verdict, time.time() - t0)
        print(head + ("\n" + report if report and ok else ""))
        if m == "ref-only" and normed[0][0] is not None:
            print("\n".join("  " + line for line in render(normed[0][0])))
    assert ok, report


def test_deviation_table(capsys):
    """Print every deviation and where it was applied in this run, so none is hidden."""
    with capsys.disabled():
        print("\n[differential] deviations (ZooKeeper 3.8 vs zkd) and where they were applied:")
        for key, reason in DEVIATIONS.items():
            where = APPLIED.get(key)
            applied = ", ".join("%s(%s)" % (sc, ", ".join("%s: %d" % kv for kv in kinds.items()))
                                for sc, kinds in sorted(where.items())) if where else "not applied"
            print("  - %s: %s\n      applied: %s" % (key, reason, applied))


def main(argv):
    """Command-line runner: [--self|--ref-only] [scenario ...]."""
    m = "real"
    names = []
    for arg in argv:
        if arg == "--self":
            m = "self"
        elif arg == "--ref-only":
            m = "ref-only"
        else:
            names.append(arg)
    scs = [s for s in SCENARIOS if not names or s.name in names]
    failed = 0
    for sc in scs:
        t0 = time.time()
        results, normed = run_scenario(sc, m)
        ok, report = compare(sc, results, normed)
        verdict = ("recorded" if m == "ref-only" else "same") if ok else "DIFFERENT"
        print("== %s: %s (%.1fs)" % (sc.name, verdict, time.time() - t0))
        if report:
            print(report)
        if m == "ref-only" and normed[0][0] is not None:
            print("\n".join(render(normed[0][0])))
        failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
