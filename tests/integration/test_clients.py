"""Run the real ZooKeeper clients (C libzookeeper-mt and the Java client) against a server.

The checks themselves live in two programs:
  tests/integration/cclient_test.c      (C client, synchronous API of the mt library)
  tests/integration/ZkdJavaTest.java    (Java client: persistent watches, containers, TTL, ...)
Each prints "ok <name>" / "FAIL <name>: ..." per check and exits non-zero on any failure.

Binaries: taken from $ZKD_BUILD (cclient_test and java/ZkdJavaTest.class, built by the
Makefile's test-integration prerequisites). Without ZKD_BUILD they are compiled here into a
temporary directory with the same commands, so `pytest tests/integration/test_clients.py`
works on its own. Validate against the reference with
  ZK_TARGET=zookeeper /usr/bin/python3 -m pytest -q tests/integration/test_clients.py

Container and TTL reaping: the Java program needs the server's sweep to run every second.
zkd reads `znode.container.checkIntervalMs` from zoo.cfg. Apache ZooKeeper 3.8 reads the
*unprefixed* system properties znode.container.checkIntervalMs / maxNeverUsedIntervalMs
(ZooKeeperServerMain), while zoo.cfg keys it does not know become `zookeeper.<key>`
properties, so for the reference server the same values are also passed through
JAVA_TOOL_OPTIONS while it starts.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

import zkservers

HERE = os.path.dirname(os.path.abspath(__file__))
C_SRC = os.path.join(HERE, "cclient_test.c")
JAVA_SRC = os.path.join(HERE, "ZkdJavaTest.java")
RELAY_SRC = os.path.join(HERE, "TcpRelay.java")
ZK_INCLUDE = "/usr/include/zookeeper"

CONTAINER_CFG = {
    "znode.container.checkIntervalMs": "1000",
    "znode.container.maxNeverUsedIntervalMs": "0",
}
PROGRAM_TIMEOUT = 240  # seconds; each program normally finishes well under 60 s


def target():
    return zkservers.default_target()


def _run_build(argv):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail("cannot build the client test program: %s: %s" % (" ".join(argv), e))
    if p.returncode != 0:
        pytest.fail("build failed (%s):\n%s" % (" ".join(argv), p.stdout.decode("utf-8", "replace")))


@pytest.fixture(scope="module")
def programs():
    """Paths of the C binary and of the Java class directory."""
    build = os.environ.get("ZKD_BUILD")
    tmp = None
    if build:
        cbin = os.path.join(build, "cclient_test")
        jdir = os.path.join(build, "java")
        for path in (cbin, os.path.join(jdir, "ZkdJavaTest.class")):
            if not os.path.exists(path):
                pytest.fail("ZKD_BUILD=%s but %s is missing (the Makefile builds it for "
                            "test-integration)" % (build, path))
    else:
        tmp = tempfile.mkdtemp(prefix="zkd-clients-")
        cbin = os.path.join(tmp, "cclient_test")
        jdir = os.path.join(tmp, "java")
        os.makedirs(jdir)
        _run_build([os.environ.get("CC", "gcc"), "-std=c11", "-D_GNU_SOURCE", "-g", "-O1",
                    "-Wall", "-Wextra", "-Werror", "-I" + ZK_INCLUDE, "-o", cbin, C_SRC,
                    "-lzookeeper_mt", "-lpthread"])
        _run_build(["javac", "-nowarn", "-cp", zkservers.ZK_JAR, "-d", jdir, JAVA_SRC, RELAY_SRC])
    yield {"c": cbin, "java": jdir}
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def start_server(server_factory, cfg):
    """A fresh server of the configured kind with extra zoo.cfg keys (plus, for Apache
    ZooKeeper, the container-manager properties it only reads as JVM system properties)."""
    full = dict(CONTAINER_CFG)
    full.update(cfg or {})
    return server_factory(cfg=full)  # zkservers passes znode.* to ZooKeeper as -D options


def run_program(argv, server, what):
    """Runs one check program; fails the test with its whole output on any problem."""
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=PROGRAM_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        pytest.fail("%s did not finish within %d s; output so far:\n%s\n--- server log tail:\n%s"
                    % (what, PROGRAM_TIMEOUT, out, server.log()[-4000:]))
    except OSError as e:
        pytest.fail("cannot run %s (%s): %s" % (what, " ".join(argv), e))
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    lines = out.splitlines()
    fails = [l for l in lines if l.startswith("FAIL")]
    oks = [l for l in lines if l.startswith("ok ")]
    alive = server.alive()
    if p.returncode != 0 or fails or not oks or not alive:
        msg = ["%s: exit status %s, %d ok, %d FAIL%s" % (
            what, p.returncode, len(oks), len(fails), "" if alive else ", SERVER DIED")]
        msg += fails
        msg.append("--- full output:")
        msg.append(out)
        if err.strip():
            msg.append("--- stderr (last 6000 chars):")
            msg.append(err[-6000:])
        msg.append("--- server log tail:")
        msg.append(server.log()[-4000:])
        pytest.fail("\n".join(msg), pytrace=False)
    return lines


def java_argv(programs, server, *extra):
    java = shutil.which("java") or "/usr/bin/java"
    cp = ":".join([programs["java"], zkservers.ZK_JAR, zkservers.ZK_CONF_DIR])
    return [java, "-Xmx256m", "-cp", cp, "ZkdJavaTest", server.hostport,
            "--target=" + target()] + list(extra)


def test_c_client(programs, server_factory):
    server = start_server(server_factory, {})
    run_program([programs["c"], server.hostport, "--target=" + target()], server,
                "C client checks (cclient_test)")


def test_java_client(programs, server_factory):
    server = start_server(server_factory, {"extendedTypesEnabled": "true"})
    run_program(java_argv(programs, server), server, "Java client checks (ZkdJavaTest)")


def test_java_client_without_extended_types(programs, server_factory):
    """TTL creates must fail with UNIMPLEMENTED when extendedTypesEnabled=false."""
    server = start_server(server_factory, {"extendedTypesEnabled": "false"})
    run_program(java_argv(programs, server, "--mode=no-extended"), server,
                "Java client checks, extendedTypesEnabled=false (ZkdJavaTest --mode=no-extended)")
