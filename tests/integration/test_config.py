"""zkd's command line and zoo.cfg handling: --help, startup errors for bad values, warnings
for unknown keys, file syntax, clientPortAddress, session-timeout defaults.

These test zkd's own CLI, so the module is skipped when ZK_TARGET=zookeeper (the skip
reason says so). Where a behaviour is ZooKeeper's too (file syntax, defaults, binding), it
was checked by hand against Apache ZooKeeper 3.8.0: a zoo.cfg with CRLF line endings, '#'
and '!' comments, indented lines and spaces around '=' / after values loads fine;
clientPortAddress=127.0.0.2 binds only that address; tickTime=1500 gives
minSessionTimeout=3000 and maxSessionTimeout=30000 in 'conf'.
"""
import os
import re
import socket
import struct
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkservers  # noqa: E402

TARGET = zkservers.default_target()
pytestmark = pytest.mark.skipif(
    TARGET != "zkd",
    reason="tests zkd's own command line and config parsing; not applicable to "
           "ZK_TARGET=%s" % TARGET)

EXIT_TIMEOUT = 10.0     # a config error must end the process well within this


# --------------------------------------------------------------------------- helpers

def run_zkd(args, timeout=EXIT_TIMEOUT):
    """Run zkd to completion; returns (exit status, stdout+stderr text, seconds)."""
    binary = zkservers.zkd_bin()
    assert os.access(binary, os.X_OK), "zkd binary not found at %s" % binary
    t0 = time.monotonic()
    try:
        p = subprocess.run([binary] + list(args), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        pytest.fail("zkd %s did not exit within %.0fs (it should fail fast); output:\n%s"
                    % (" ".join(args), timeout, out[-3000:]))
    return p.returncode, p.stdout.decode("utf-8", "replace"), time.monotonic() - t0


def base_cfg(tmp_path):
    port = zkservers.free_port()
    return port, {
        "tickTime": "2000",
        "clientPort": str(port),
        "clientPortAddress": "127.0.0.1",
        "dataDir": str(tmp_path / "data"),
        "4lw.commands.whitelist": "*",
        "admin.enableServer": "false",
    }


def write_cfg(tmp_path, cfg, name="zoo.cfg"):
    os.makedirs(cfg.get("dataDir", str(tmp_path / "data")), exist_ok=True)
    path = tmp_path / name
    path.write_text("".join("%s=%s\n" % kv for kv in cfg.items()))
    return str(path)


def launch(srv, cfg_path, host="127.0.0.1", timeout=30.0):
    """Start zkd on an arbitrary cfg file and wait until host:port accepts connections.
    The process is attached to srv, so server_factory stops it (and checks exit 0)."""
    binary = zkservers.zkd_bin()
    assert os.access(binary, os.X_OK), "zkd binary not found at %s" % binary
    log = open(srv.log_path, "ab")
    srv.proc = subprocess.Popen([binary, cfg_path], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    log.close()
    deadline = time.monotonic() + timeout
    while True:
        if srv.proc.poll() is not None:
            pytest.fail("zkd exited with %s during startup; log:\n%s"
                        % (srv.proc.returncode, srv.log()))
        try:
            socket.create_connection((host, srv.port), timeout=1.0).close()
            return srv
        except OSError:
            pass
        assert time.monotonic() < deadline, "zkd not listening on %s:%d; log:\n%s" % (
            host, srv.port, srv.log())
        time.sleep(0.05)   # polling interval


def conf(port, host="127.0.0.1"):
    out = zkservers.four_letter(port, "conf", host=host)
    d = {}
    for line in out.splitlines():
        if "=" in line:
            k, _, v = line.partition("=")
            d[k] = v
    return d


def negotiate(port, requested_ms, host="127.0.0.1"):
    """Handshake asking for requested_ms; returns the negotiated timeout."""
    s = socket.create_connection((host, port), timeout=10.0)
    try:
        p = struct.pack(">iqiqi", 0, 0, requested_ms, 0, 16) + b"\0" * 16 + b"\0"
        s.sendall(struct.pack(">i", len(p)) + p)
        buf = b""
        while len(buf) < 4 + 37:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        (n,) = struct.unpack(">i", buf[:4])
        assert n in (36, 37) and len(buf) >= 4 + n, buf
        timeout, sid = struct.unpack(">iq", buf[8:20])
        assert sid != 0
        # closeSession so the session does not linger
        s.sendall(struct.pack(">iii", 8, 1, -11))
        return timeout
    finally:
        s.close()


def serving(srv, host="127.0.0.1", timeout=30.0):
    """Wait until the server completes a handshake (listening is not quite serving)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            negotiate(srv.port, 30000, host=host)
            return srv
        except (OSError, AssertionError, struct.error):
            assert srv.alive(), "server died; log:\n%s" % srv.log()
            assert time.monotonic() < deadline, "no handshake on %s:%d; log:\n%s" % (
                host, srv.port, srv.log())
            time.sleep(0.05)   # polling interval


def poll_log(srv, pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        text = srv.log()
        if pred(text):
            return text
        assert time.monotonic() < deadline, "log never showed %s; log:\n%s" % (what, text)
        time.sleep(0.05)   # polling interval


# --------------------------------------------------------------------------- CLI

def test_help_exits_zero_and_documents_usage():
    rc, out, _ = run_zkd(["--help"])
    assert rc == 0, "zkd --help exited %d:\n%s" % (rc, out)
    assert re.search(r"usage", out, re.I), "no usage line in:\n%s" % out
    assert re.search(r"cfg|conf", out, re.I), "--help does not mention the config file:\n%s" % out


def test_missing_config_file_is_a_clear_error(tmp_path):
    missing = str(tmp_path / "no-such-dir" / "zoo.cfg")
    rc, out, _ = run_zkd([missing])
    assert rc != 0, "zkd started without a config file:\n%s" % out
    assert missing in out, "error does not name the file %s:\n%s" % (missing, out)


@pytest.mark.parametrize("key,value", [
    ("tickTime", "abc"),
    ("tickTime", "10x"),          # trailing garbage (strtol without an end check)
    ("tickTime", "-5"),
    ("clientPort", "70000"),
    ("clientPort", "abc"),
    ("maxClientCnxns", "many"),
    ("minSessionTimeout", "soon"),
])
def test_bad_value_fails_fast_naming_key_and_value(tmp_path, key, value):
    _, cfg = base_cfg(tmp_path)
    cfg[key] = value
    rc, out, secs = run_zkd([write_cfg(tmp_path, cfg)])
    assert rc != 0, "zkd accepted %s=%s:\n%s" % (key, value, out)
    assert key in out, "error does not name the key %s:\n%s" % (key, out)
    assert value in out, "error does not show the value %r:\n%s" % (value, out)
    assert secs < EXIT_TIMEOUT


def test_max_session_timeout_below_min_is_an_error(tmp_path):
    _, cfg = base_cfg(tmp_path)
    cfg["minSessionTimeout"] = "10000"
    cfg["maxSessionTimeout"] = "5000"
    rc, out, _ = run_zkd([write_cfg(tmp_path, cfg)])
    assert rc != 0, "zkd accepted maxSessionTimeout < minSessionTimeout:\n%s" % out
    assert "maxSessionTimeout" in out or "minSessionTimeout" in out, out
    assert "5000" in out or "10000" in out, out


def test_missing_data_dir_is_an_error(tmp_path):
    _, cfg = base_cfg(tmp_path)
    del cfg["dataDir"]
    path = tmp_path / "zoo.cfg"
    path.write_text("".join("%s=%s\n" % kv for kv in cfg.items()))
    rc, out, _ = run_zkd([str(path)])
    assert rc != 0, "zkd started without dataDir:\n%s" % out
    assert "dataDir" in out, out


# --------------------------------------------------------------------------- starting servers

def test_unknown_key_only_warns(server_factory):
    srv = serving(server_factory(kind="zkd", cfg={"noSuchSetting": "42"}))
    assert negotiate(srv.port, 30000) == 30000
    poll_log(srv, lambda t: any("noSuchSetting" in line and re.search(r"warn|unknown|ignor",
                                                                        line, re.I)
                                for line in t.splitlines()),
             "a warning naming noSuchSetting")


def test_comments_blank_lines_and_whitespace(server_factory, tmp_path):
    srv = server_factory(kind="zkd", start=False)
    os.makedirs(srv.cfg["dataDir"], exist_ok=True)
    path = tmp_path / "zoo.cfg"
    # the same syntax Apache ZooKeeper (java.util.Properties) accepts: CRLF, '#' and '!'
    # comments, indentation, spaces around '=' and after the value
    text = ("# zkd test config\r\n"
            "\r\n"
            "   # indented comment\r\n"
            "! bang comment\r\n"
            "tickTime = 1500   \r\n"
            "\tclientPort=%d\r\n"
            "clientPortAddress=127.0.0.1\r\n"
            "\r\n"
            "dataDir=%s\r\n"
            "4lw.commands.whitelist=*\r\n"
            "admin.enableServer=false\r\n"
            "# trailing comment without newline") % (srv.port, srv.cfg["dataDir"])
    path.write_bytes(text.encode())
    serving(launch(srv, str(path)))
    c = conf(srv.port)
    assert c.get("tickTime") == "1500", c
    assert c.get("clientPort") == str(srv.port), c
    assert c.get("minSessionTimeout") == "3000" and c.get("maxSessionTimeout") == "30000", c


def test_client_port_address_is_honoured(server_factory):
    srv = server_factory(kind="zkd", start=False, cfg={"clientPortAddress": "127.0.0.2"})
    serving(launch(srv, srv.write_cfg(), host="127.0.0.2"), host="127.0.0.2")
    assert negotiate(srv.port, 30000, host="127.0.0.2") == 30000
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2.0).close()


def test_without_client_port_address_binds_all(server_factory):
    srv = server_factory(kind="zkd", start=False)
    del srv.cfg["clientPortAddress"]
    serving(launch(srv, srv.write_cfg(), host="127.0.0.1"))
    assert negotiate(srv.port, 30000, host="127.0.0.1") == 30000
    assert negotiate(srv.port, 30000, host="127.0.0.2") == 30000


@pytest.mark.parametrize("tick", [1000, 3000])
def test_session_timeout_defaults_follow_tick_time(server_factory, tick):
    srv = serving(server_factory(kind="zkd", tick_ms=tick))
    c = conf(srv.port)
    assert c.get("tickTime") == str(tick), c
    assert c.get("minSessionTimeout") == str(2 * tick), c
    assert c.get("maxSessionTimeout") == str(20 * tick), c
    # and negotiation clamps to them
    assert negotiate(srv.port, 1) == 2 * tick
    assert negotiate(srv.port, 10 ** 8) == 20 * tick
    assert negotiate(srv.port, 5 * tick) == 5 * tick


def test_explicit_session_timeout_bounds(server_factory):
    srv = serving(server_factory(kind="zkd", cfg={"minSessionTimeout": "5000",
                                                  "maxSessionTimeout": "7000"}))
    c = conf(srv.port)
    assert (c.get("minSessionTimeout"), c.get("maxSessionTimeout")) == ("5000", "7000"), c
    assert negotiate(srv.port, 1000) == 5000
    assert negotiate(srv.port, 6000) == 6000
    assert negotiate(srv.port, 60000) == 7000
