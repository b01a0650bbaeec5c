"""zkctl (tools/zkctl.c), the offline data-file tool, on files Apache ZooKeeper 3.8 wrote.

Goal: zkctl reads real ZooKeeper txn logs and snapshots exactly, tells a torn tail (warning)
from corruption (error) and names the file and byte offset of any damage, and checks zxid
continuity within and across log files and against the newest snapshot of a dataDir.

Method:
* the checked-in fixtures tests/data/zk38/log.1 (two sessions, creates, an ephemeral
  sequential, setData, a multi, a failed create logged as an error txn, closeSession) and
  tests/data/zk38/snapshot.b (two sessions, an ephemeral, a digest ACL, null and empty data):
  specific zxids, paths, types and stat values seen in them are asserted;
* damaged copies made here: a torn tail, a flipped byte in each part of a middle record, bad
  headers, a zxid gap across two files, a file whose name disagrees with its first zxid;
* a fresh dataDir written by a real Apache ZooKeeper 3.8 (snapCount 50, so several log rolls
  and snapshots) holding ~200 znodes created with kazoo.
Record offsets are computed here from the framing (16-byte header, then i64 Adler-32 | i32
length | payload | 'B'), independently of zkctl, and expected in its messages.

Binary: $ZKCTL_BIN, else <repo>/build/asan/zkctl; a missing binary fails the test (never skips).
A sanitizer report on stderr fails the test whatever the exit status.
"""
import datetime
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkservers  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402

REPO = zkservers.REPO
LOG_FIXTURE = os.path.join(REPO, "tests", "data", "zk38", "log.1")
SNAP_FIXTURE = os.path.join(REPO, "tests", "data", "zk38", "snapshot.b")
HEADER_BYTES = 16


# ---- Helpers ----

def zkctl_bin():
    path = os.environ.get("ZKCTL_BIN", os.path.join(REPO, "build", "asan", "zkctl"))
    if not os.access(path, os.X_OK):
        pytest.fail("zkctl binary not found at %s: run `make MODE=asan build/asan/zkctl` or set "
                    "ZKCTL_BIN" % path)
    return path


def zkctl(*args):
    """Runs zkctl; returns (exit status, stdout, stderr)."""
    p = subprocess.run([zkctl_bin()] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for marker in ("Sanitizer", "runtime error:", "PANIC"):
        assert marker not in err, "zkctl %s: sanitizer/panic report:\n%s" % (args, err)
    return p.returncode, out, err


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def records(data):
    """[(offset, length)] of the framed records of a log image, up to the zero padding."""
    out = []
    off = HEADER_BYTES
    while off + 13 <= len(data):
        (length,) = struct.unpack(">i", data[off + 8:off + 12])
        if length <= 0:
            break
        out.append((off, length))
        off += 12 + length + 1
    return out


def payload_zxid_time(data, off):
    """zxid and time of the TxnHeader of the record at off (clientId i64, cxid i32, zxid, time)."""
    zxid, ms = struct.unpack(">qq", data[off + 12 + 12:off + 12 + 28])
    return zxid, ms


def iso_ms(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def log_image(data, recs):
    """A log file holding the fixture's header and the given records."""
    return data[:HEADER_BYTES] + b"".join(data[o:o + 13 + n] for o, n in recs)


def dump_lines(out):
    return [line for line in out.splitlines()]


# ---- Usage ----

def test_help_documents_every_subcommand_and_exits_0():
    rc, out, _ = zkctl("--help")
    assert rc == 0
    for cmd in ("log dump FILE", "log verify [--strict] FILE...", "snap dump FILE",
                "snap verify FILE...", "dir verify [--strict] DATADIR [DATALOGDIR]"):
        assert cmd in out, cmd
    assert "Exit status" in out


@pytest.mark.parametrize("args", [
    [], ["log"], ["bogus", "verify", "x"], ["log", "frob", LOG_FIXTURE], ["log", "dump"],
    ["log", "dump", LOG_FIXTURE, LOG_FIXTURE], ["log", "verify"],
    ["log", "verify", "--nope", LOG_FIXTURE], ["snap", "verify", "--strict", SNAP_FIXTURE],
    ["dir", "verify"], ["dir", "verify", "a", "b", "c"], ["dir", "dump", "a"],
])
def test_bad_usage_exits_2(args):
    rc, out, err = zkctl(*args)
    assert rc == 2, (args, out, err)
    assert "usage: zkctl" in err


# ---- Fixture: log.1 ----

def test_log_dump_of_zookeeper_fixture_shows_every_txn():
    data = read(LOG_FIXTURE)
    rc, out, err = zkctl("log", "dump", LOG_FIXTURE)
    assert rc == 0, err
    lines = dump_lines(out)
    assert lines[0].startswith("log %s: 828 bytes, magic 0x5a4b4c47, version 2, dbid 0, "
                               "name zxid 0x1" % LOG_FIXTURE)
    top = [line for line in lines[1:-1] if not line.startswith("    ")]
    assert len(top) == 9
    # zxid, ISO time from the header's time field, session, cxid on every line
    for (off, _), line, zxid in zip(records(data), top, range(1, 10)):
        z, ms = payload_zxid_time(data, off)
        assert z == zxid
        assert line.startswith("0x%x %s 0x100006de5d5000" % (zxid, iso_ms(ms))), line
    assert top[0] == ("0x1 2026-11-22T08:38:31.064Z 0x100006de5d50000 0 createSession - "
                      "timeout=10000")
    assert top[1].endswith(" 0x100006de5d50000 1 closeSession - ephemerals=0")
    assert top[2].endswith(" 0x100006de5d50001 0 createSession - timeout=10000")
    assert top[3].endswith(" 1 create /a data=5 acl=1 ephemeral=no parent_cversion=1")
    assert top[4].endswith(" 2 create /a/s-0000000000 data=0 acl=1 ephemeral=yes parent_cversion=1")
    assert top[5].endswith(" 3 setData /a data=5 version=1")
    assert top[6].endswith(" 4 multi - ops=3")
    assert top[7].endswith(" 5 error - err=-110 (NODEEXISTS)")
    assert top[8].endswith(" 6 closeSession - ephemerals=1")
    i = lines.index(top[6])
    assert lines[i + 1:i + 4] == ["    create /b data=1 acl=1 ephemeral=no parent_cversion=2",
                                  "    check /a version=2", "    delete /b"]
    assert lines[-2] == "    ephemeral /a/s-0000000000"
    assert lines[-1] == "end: 9 records, zxid 0x1-0x9, clean"


def test_log_verify_of_zookeeper_fixture_is_ok():
    rc, out, _ = zkctl("log", "verify", LOG_FIXTURE)
    assert rc == 0, out
    assert "log %s: 9 records, zxid 0x1-0x9, clean" % LOG_FIXTURE in out
    assert out.splitlines()[-1] == "OK: 9 records, zxid 0x1-0x9"
    rc, out, _ = zkctl("log", "verify", "--strict", LOG_FIXTURE)
    assert rc == 0, out


# ---- Fixture: snapshot.b ----

def node_line(out, path):
    hits = [line for line in out.splitlines() if line.startswith(path + " data=")]
    assert len(hits) == 1, (path, out)
    return hits[0]


def test_snap_dump_of_zookeeper_fixture():
    rc, out, err = zkctl("snap", "dump", SNAP_FIXTURE)
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0] == "snapshot %s: 1076 bytes, dbid -1, name zxid 0xb" % SNAP_FIXTURE
    assert "sessions: 2" in lines
    assert "  session 0x10000701cd30001 timeout=30000 ephemerals=1" in lines
    assert "  session 0x10000701cd30002 timeout=30000 ephemerals=0" in lines
    assert lines[lines.index("acls: 3") + 1:lines.index("nodes: 10")] == [
        "  acl 1 [world:anyone:r]", "  acl 2 [world:anyone:cdrwa]",
        "  acl 3 [digest:u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:cdrwa]"]
    nodes = lines[lines.index("nodes: 10") + 1:-1]
    paths = [n.split(" ")[0] for n in nodes]
    assert paths == sorted(paths)
    assert paths == ["/", "/a", "/a/b", "/a/s-0000000001", "/e", "/n", "/secret", "/zookeeper",
                     "/zookeeper/config", "/zookeeper/quota"]
    a = node_line(out, "/a")
    assert a.startswith('/a data=5 "world" acl=2 [world:anyone:cdrwa] czxid=0x4 mzxid=0xa '
                        'pzxid=0x6 ctime=2026-11-22T08:40:56.070Z ')
    assert "version=1 cversion=2 aversion=0 ephemeralOwner=0x0 numChildren=2 dataLength=5" in a
    assert node_line(out, "/").startswith('/ data=0 "" acl=-1 [world:anyone:cdrwa] czxid=0x0 '
                                          'mzxid=0x0 pzxid=0x9 ')
    assert "cversion=4 " in node_line(out, "/") and "numChildren=5 " in node_line(out, "/")
    assert node_line(out, "/n").startswith("/n data=null acl=2 ")
    assert node_line(out, "/n").endswith(" dataLength=0")
    assert node_line(out, "/a/b").startswith('/a/b data=0 "" ')
    assert "ephemeralOwner=0x10000701cd30001 " in node_line(out, "/e")
    assert node_line(out, "/secret").startswith(
        '/secret data=1 "x" acl=3 [digest:u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ=:cdrwa]')
    cfg = node_line(out, "/zookeeper/config")
    assert "acl=1 [world:anyone:r]" in cfg and "aversion=-1 " in cfg
    assert lines[-1] == "digest: present, zxid 0xb"


def test_snap_verify_of_zookeeper_fixture():
    rc, out, _ = zkctl("snap", "verify", SNAP_FIXTURE)
    assert rc == 0
    assert out.strip() == ("OK: %s: 10 nodes, 2 sessions, 3 acls, digest present (zxid 0xb)"
                           % SNAP_FIXTURE)


def test_damaged_snapshots_fail_with_file_and_offset(tmp_path):
    data = read(SNAP_FIXTURE)
    flipped = bytearray(data)
    flipped[0x109] ^= 0x01  # inside /a's data "world": only the seal's checksum can notice
    cases = {
        "snapshot.flip": bytes(flipped),
        "snapshot.cut": data[:0x200],  # in the middle of the nodes
        "snapshot.magic": b"XXXX" + data[4:],
        "snapshot.version": data[:4] + struct.pack(">i", 1) + data[8:],
    }
    paths = [write(tmp_path / name, img) for name, img in cases.items()]
    rc, out, _ = zkctl("snap", "verify", SNAP_FIXTURE, *paths)
    assert rc == 1, out
    assert "OK: %s: 10 nodes" % SNAP_FIXTURE in out
    for p in paths:
        assert re.search(r"^ERROR: %s: offset \d+: " % re.escape(p), out, re.M), (p, out)
    assert ("ERROR: %s: offset 0: bad header: magic 0x58585858 is not ZKSN (0x5a4b534e): not a "
            "ZooKeeper snapshot" % paths[2]) in out
    assert re.search(r"ERROR: %s: offset \d+: checksum mismatch" % re.escape(paths[0]), out)
    assert "ERROR: %s: offset 4: bad header: version 1 is not 2" % paths[3] in out
    assert out.splitlines()[-1] == "FAILED: 4 errors, 0 warnings"
    rc, out, err = zkctl("snap", "dump", paths[1])
    assert rc == 1 and out == ""
    assert re.search(r"ERROR: %s: offset \d+: " % re.escape(paths[1]), err)


# ---- Damaged logs ----

def test_torn_tail_is_a_warning_with_its_offset_and_an_error_with_strict(tmp_path):
    data = read(LOG_FIXTURE)
    last_off, last_len = records(data)[-1]
    torn = write(tmp_path / "log.1", data[:last_off + 20])  # mid-record, nothing after it
    rc, out, _ = zkctl("log", "verify", torn)
    assert rc == 0, out
    assert re.search(r"^WARNING: %s: offset %d: torn tail: " % (re.escape(torn), last_off), out,
                     re.M), out
    assert out.splitlines()[-1] == "OK: 8 records, zxid 0x1-0x8 (1 warning)"
    rc, out, _ = zkctl("log", "verify", "--strict", torn)
    assert rc == 1
    assert "ERROR: %s: offset %d: torn tail" % (torn, last_off) in out
    rc, out, err = zkctl("log", "dump", torn)
    assert rc == 0
    assert out.splitlines()[-1] == "end: 8 records, zxid 0x1-0x8, torn tail at offset %d" % last_off
    assert "WARNING: %s: offset %d: torn tail" % (torn, last_off) in err


@pytest.mark.parametrize("where,reason", [
    (0, "Adler-32 mismatch"),           # the stored checksum
    (12 + 30, "Adler-32 mismatch"),     # a payload byte
    ("marker", "end-of-record byte"),   # the 'B' trailer
    (8, "record length"),               # the length field
])
def test_flipped_byte_in_a_middle_record_is_corruption_at_its_offset(tmp_path, where, reason):
    data = read(LOG_FIXTURE)
    recs = records(data)
    off, length = recs[4]  # zxid 0x5 of 9
    at = off + 12 + length if where == "marker" else off + where
    img = bytearray(data)
    img[at] ^= 0x40
    path = write(tmp_path / "log.1", bytes(img))
    rc, out, _ = zkctl("log", "verify", path)
    assert rc == 1, out
    assert re.search(r"^ERROR: %s: offset %d: CORRUPT record: %s.*valid record follows at "
                     r"offset %d" % (re.escape(path), off, reason, recs[5][0]), out, re.M), out
    assert "log %s: 4 records, zxid 0x1-0x4, corrupt" % path in out
    rc, out, err = zkctl("log", "dump", path)
    assert rc == 1
    assert out.splitlines()[-1] == "end: 4 records, zxid 0x1-0x4, CORRUPT at offset %d" % off
    assert "ERROR: %s: offset %d: CORRUPT record" % (path, off) in err


def test_well_framed_payload_that_does_not_decode_is_an_error(tmp_path):
    """Checksum, length and marker are fine, but the txn type is unknown (99) and the last
    record is cut inside its TxnHeader: both are reported at their record's offset."""
    data = read(LOG_FIXTURE)
    recs = records(data)
    off, length = recs[3]  # zxid 0x4, create /a
    payload = bytearray(data[off + 12:off + 12 + length])
    payload[28:32] = struct.pack(">i", 99)
    short = data[recs[4][0] + 12:recs[4][0] + 12 + 20]  # 20 bytes: not even a TxnHeader

    def frame(p):
        return struct.pack(">qi", zlib.adler32(bytes(p)), len(p)) + bytes(p) + b"B"

    img = data[:off] + frame(payload) + data[recs[4][0]:recs[-1][0]] + frame(short)
    path = write(tmp_path / "log.1", img)
    rc, out, _ = zkctl("log", "verify", path)
    assert rc == 1, out
    assert ("ERROR: %s: offset %d: payload of %d bytes does not decode as type99: corrupt data"
            % (path, off, length)) in out
    last = len(img) - 13 - 20
    assert ("ERROR: %s: offset %d: payload of 20 bytes does not decode as a TxnHeader"
            % (path, last)) in out
    assert "log %s: 8 records, zxid 0x1-0x8, clean" % path in out  # 0x4 still counted in order
    rc, out, err = zkctl("log", "dump", path)
    assert rc == 1
    assert re.search(r"^0x4 \S+ 0x100006de5d50001 1 type99 - UNDECODABLE len=%d$" % length, out,
                     re.M), out
    assert "? - - - ? - UNDECODABLE len=20" in out
    assert "offset %d: payload" % off in err


def test_bad_headers_fail_at_offset_0(tmp_path):
    data = read(LOG_FIXTURE)
    magic = write(tmp_path / "log.magic", b"ZKLX" + data[4:])
    version = write(tmp_path / "log.version", data[:4] + struct.pack(">i", 3) + data[8:])
    short = write(tmp_path / "log.short", data[:10])
    empty = write(tmp_path / "log.empty", b"")
    rc, out, _ = zkctl("log", "verify", magic, version, short, empty)
    assert rc == 1
    assert "ERROR: %s: offset 0: bad header: magic 0x5a4b4c58 is not ZKLG" % magic in out
    assert "ERROR: %s: offset 4: bad header: version 3 is not 2" % version in out
    assert "ERROR: %s: offset 0: bad header: the file is 10 bytes" % short in out
    assert "ERROR: %s: offset 0: bad header: the file is 0 bytes" % empty in out
    rc, out, err = zkctl("log", "dump", magic)
    assert rc == 1
    assert out.splitlines()[-1] == "end: 0 records, bad header"
    assert "%s: offset 0: bad header" % magic in err
    rc, out, _ = zkctl("log", "verify", str(tmp_path / "missing"))
    assert rc == 1 and "missing: cannot open" in out


def test_zxid_continuity_across_files(tmp_path):
    data = read(LOG_FIXTURE)
    recs = records(data)
    first = write(tmp_path / "log.1", log_image(data, recs[:4]))   # 0x1-0x4
    gap = write(tmp_path / "log.6", log_image(data, recs[5:]))     # 0x6-0x9: 0x5 lost
    split = tmp_path / "split"
    split.mkdir()
    s1 = write(split / "log.1", log_image(data, recs[:4]))
    s5 = write(split / "log.5", log_image(data, recs[4:]))
    # given in reverse order: zkctl orders files by the zxid in their names
    rc, out, _ = zkctl("log", "verify", gap, first)
    assert rc == 1, out
    assert ("ERROR: %s: offset 16: gap: zxid 0x6 follows 0x4 (missing 0x5) (the previous file "
            "%s ends at 0x4)" % (gap, first)) in out
    assert out.splitlines()[-1] == "FAILED: 1 error, 0 warnings"
    rc, out, _ = zkctl("log", "verify", s5, s1)
    assert rc == 0, out
    assert out.splitlines()[-1] == "OK: 9 records, zxid 0x1-0x9"
    # a name that disagrees with the first record, and an overlap
    misnamed = write(tmp_path / "log.4", log_image(data, recs[4:]))
    rc, out, _ = zkctl("log", "verify", misnamed)
    assert rc == 1
    assert ("ERROR: %s: offset %d: first txn has zxid 0x5 but the file name says 0x4"
            % (misnamed, HEADER_BYTES)) in out
    overlap = tmp_path / "overlap"
    overlap.mkdir()
    o1 = write(overlap / "log.1", log_image(data, recs[:5]))
    o5 = write(overlap / "log.5", log_image(data, recs[4:]))
    rc, out, _ = zkctl("log", "verify", o1, o5)
    assert rc == 1
    assert "ERROR: %s: offset 16: zxid 0x5 does not increase after 0x5" % o5 in out


def test_zxid_order_within_a_file(tmp_path):
    data = read(LOG_FIXTURE)
    recs = records(data)
    swapped = recs[:3] + [recs[4], recs[3]] + recs[5:]  # 0x1 0x2 0x3 0x5 0x4 0x6 ...
    path = write(tmp_path / "log.1", log_image(data, swapped))
    rc, out, _ = zkctl("log", "verify", path)
    assert rc == 1
    off5 = HEADER_BYTES + sum(13 + n for _, n in swapped[:3])
    off4 = off5 + 13 + swapped[3][1]
    off6 = off4 + 13 + swapped[4][1]
    assert "ERROR: %s: offset %d: gap: zxid 0x5 follows 0x3 (missing 0x4)" % (path, off5) in out
    assert "ERROR: %s: offset %d: zxid 0x4 does not increase after 0x5" % (path, off4) in out
    assert "ERROR: %s: offset %d: gap: zxid 0x6 follows 0x4 (missing 0x5)" % (path, off6) in out


# ---- A dataDir written by Apache ZooKeeper 3.8 ----

def copy_log_trimmed(src, dst):
    """Copies a log without its zero pre-allocation (64 MiB per file): an end of file
    right after the last record is as clean as zero padding."""
    data = read(src).rstrip(b"\0")
    write(dst, data + b"\0" * 13)


def run_zookeeper(data_dir):
    """Writes ~200 znodes into a fresh ZooKeeper 3.8 with snapCount 50; returns every path
    created (directly or inside a multi) and the paths of failed/other txns by kind."""
    created = []
    srv = zkservers.Server(kind="zookeeper", cfg={"dataDir": str(data_dir), "snapCount": "50"})
    srv.start()
    try:
        zk = KazooClient(hosts=srv.hostport, timeout=15)
        zk.start(timeout=30)
        try:
            zk.create("/zkctl", b"root")
            created.append("/zkctl")
            for i in range(200):
                path = "/zkctl/n%03d" % i
                zk.create(path, b"value-%d" % i)
                created.append(path)
            seq = zk.create("/zkctl/seq-", b"", sequence=True)
            eph = zk.create("/zkctl/eph", b"e", ephemeral=True)
            created += [seq, eph]
            zk.set("/zkctl/n000", b"changed")
            zk.delete("/zkctl/n001")
            t = zk.transaction()
            t.create("/zkctl/multi-a", b"a")
            t.set_data("/zkctl/n002", b"m")
            t.check("/zkctl/n003", 0)
            t.commit()
            created.append("/zkctl/multi-a")
        finally:
            zk.stop()
            zk.close()
    finally:
        srv.stop()
    return created


@pytest.fixture(scope="module")
def zk_data_dir(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("zk38-datadir")  # outside Server.dir: stop() deletes that
    created = run_zookeeper(data_dir)
    return data_dir, created


def version2(data_dir, prefix):
    d = os.path.join(str(data_dir), "version-2")
    names = [n for n in os.listdir(d) if n.startswith(prefix)]
    return sorted((os.path.join(d, n) for n in names), key=lambda p: int(p.rsplit(".", 1)[1], 16))


def test_real_zookeeper_datadir_verifies(zk_data_dir):
    data_dir, _ = zk_data_dir
    logs = version2(data_dir, "log.")
    snaps = version2(data_dir, "snapshot.")
    assert len(logs) >= 3 and len(snaps) >= 3, (logs, snaps)  # snapCount 50: several rolls
    rc, out, _ = zkctl("dir", "verify", data_dir)
    assert rc == 0, out
    for p in snaps:
        assert re.search(r"^OK: %s: \d+ nodes, \d+ sessions, \d+ acls, digest present"
                         % re.escape(p), out, re.M), out
    for p in logs:
        assert re.search(r"^log %s: \d+ records, zxid 0x[0-9a-f]+-0x[0-9a-f]+, clean$"
                         % re.escape(p), out, re.M), out
    last = out.splitlines()[-1]
    assert last.startswith("OK: %d snapshots (newest valid %s), %d logs, "
                           % (len(snaps), os.path.basename(snaps[-1]), len(logs))), last
    rc, out2, _ = zkctl("dir", "verify", data_dir, data_dir)  # explicit dataLogDir
    assert rc == 0 and out2 == out
    rc, out, _ = zkctl("log", "verify", "--strict", *logs)
    assert rc == 0, out
    assert re.match(r"OK: \d+ records, zxid 0x1-0x[0-9a-f]+$", out.splitlines()[-1])
    rc, out, _ = zkctl("snap", "verify", *snaps)
    assert rc == 0 and out.count("OK: ") == len(snaps)


def test_real_zookeeper_logs_list_every_created_path(zk_data_dir):
    data_dir, created = zk_data_dir
    seen = {}
    types = set()
    for p in version2(data_dir, "log."):
        rc, out, err = zkctl("log", "dump", p)
        assert rc == 0, err
        lines = out.splitlines()
        assert lines[-1].endswith(", clean"), lines[-1]
        for line in lines[1:-1]:
            fields = line.split()
            if line.startswith("    "):
                if fields[0] == "create":
                    seen[fields[1]] = seen.get(fields[1], 0) + 1
                continue
            assert re.match(r"0x[0-9a-f]+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z "
                            r"0x[0-9a-f]+ -?\d+ ", line), line
            types.add(fields[4])
            if fields[4] == "create":
                seen[fields[5]] = seen.get(fields[5], 0) + 1
    missing = [p for p in created if p not in seen]
    assert not missing, missing
    assert all(seen[p] == 1 for p in created)
    assert {"createSession", "create", "setData", "delete", "multi", "closeSession"} <= types


def test_real_zookeeper_snapshot_dump(zk_data_dir):
    data_dir, created = zk_data_dir
    newest = version2(data_dir, "snapshot.")[-1]
    rc, out, err = zkctl("snap", "dump", newest)
    assert rc == 0, err
    assert "/zkctl data=4 \"root\" acl=2 [world:anyone:cdrwa] czxid=0x2 " in out
    paths = [line.split(" ")[0] for line in out.splitlines() if line.startswith("/")]
    assert paths == sorted(paths)
    assert "/zkctl/n000" in paths and "/zookeeper/config" in paths


def test_missing_log_is_a_gap_unless_the_snapshot_covers_it(zk_data_dir, tmp_path):
    data_dir, _ = zk_data_dir
    logs = version2(data_dir, "log.")
    snaps = version2(data_dir, "snapshot.")
    # Only snapshot.0 (ZooKeeper's startup snapshot): every log is needed.
    full = tmp_path / "full" / "version-2"
    full.mkdir(parents=True)
    shutil.copy(snaps[0], str(full))
    for p in logs:
        copy_log_trimmed(p, full / os.path.basename(p))
    rc, out, _ = zkctl("dir", "verify", full.parent)
    assert rc == 0, out
    os.unlink(str(full / os.path.basename(logs[1])))
    rc, out, _ = zkctl("dir", "verify", full.parent)
    assert rc == 1, out
    after = str(full / os.path.basename(logs[2]))
    assert re.search(r"^ERROR: %s: offset 16: gap: zxid 0x[0-9a-f]+ follows 0x[0-9a-f]+ "
                     r"\(missing 0x[0-9a-f]+-0x[0-9a-f]+\)" % re.escape(after), out, re.M), out
    # With every snapshot back, the newest one covers the lost log: a warning only.
    for p in snaps[1:]:
        shutil.copy(p, str(full))
    newest = int(snaps[-1].rsplit(".", 1)[1], 16)
    assert int(logs[2].rsplit(".", 1)[1], 16) <= newest, "expected the newest snapshot past log 3"
    rc, out, _ = zkctl("dir", "verify", full.parent)
    assert rc == 0, out
    assert re.search(r"^WARNING: %s: offset 16: gap: .*the snapshot covers it$" % re.escape(after),
                     out, re.M), out
    # No snapshot at all but logs: ZooKeeper 3.8 would refuse to start.
    for p in snaps:
        os.unlink(str(full / os.path.basename(p)))
    rc, out, _ = zkctl("dir", "verify", full.parent)
    assert rc == 1
    assert "no valid snapshot but" in out
    rc, out, _ = zkctl("dir", "verify", tmp_path / "nowhere")
    assert rc == 1 and "cannot open directory" in out
