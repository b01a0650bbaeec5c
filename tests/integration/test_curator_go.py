"""Run two more real client stacks against a server: Apache Curator 5.4 and go-zookeeper.

The checks themselves live in two programs:
  tests/integration/CuratorTest.java   Curator framework + recipes (locks, leader election,
                                       caches, persistent watchers, containers, TTL, ...)
  tests/integration/gozk/main.go       github.com/samuel/go-zookeeper/zk (44-byte handshake,
                                       watches, multi, digest ACLs, setWatches after reconnect)
Each prints "ok <name>" / "FAIL <name>: ..." per check, a final "all ... checks passed" line,
and exits non-zero on any failure. Per-check timings go to stderr ("# <name>: <ms> ms").

Both are compiled here, into $ZKD_BUILD (the Makefile sets it to the absolute build directory)
or, without it, into a temporary directory, so `pytest tests/integration/test_curator_go.py`
works on its own. Debian packages used: libcurator-framework-java, libcurator-recipes-java
(with libguava-java, libslf4j-java, zookeeper), golang-go and
golang-github-samuel-go-zookeeper-dev (built with GO111MODULE=off and GOPATH, no network).

Validate against the reference with
  ZK_TARGET=zookeeper /usr/bin/python3 -m pytest -q tests/integration/test_curator_go.py

Container and TTL reaping: Curator's checks need the server's sweep to run every second.
zkd reads `znode.container.checkIntervalMs` from zoo.cfg; Apache ZooKeeper 3.8 reads the
unprefixed system property (zoo.cfg keys it does not know become `zookeeper.<key>`), so for the
reference server the value is also passed through JAVA_TOOL_OPTIONS while it starts (as
test_clients.py does).
"""
import os
import shutil
import subprocess
import tempfile

import pytest

import zkservers

HERE = os.path.dirname(os.path.abspath(__file__))
CURATOR_SRC = os.path.join(HERE, "CuratorTest.java")
GOZK_SRC = os.path.join(HERE, "gozk", "main.go")

JAVA_LIB = "/usr/share/java"
# Debian's jars; the Curator ones carry Class-Path manifests, but the classpath is spelled out.
CURATOR_JARS = ["curator-recipes.jar", "curator-framework.jar", "curator-client.jar",
                "guava.jar", "slf4j-api.jar", "zookeeper.jar", "zookeeper-jute.jar"]
SLF4J_BINDING = "slf4j-simple.jar"  # warnings of Curator/ZooKeeper to stderr (optional)
GOZK_PKG = "/usr/share/gocode/src/github.com/samuel/go-zookeeper/zk"

CONTAINER_CFG = {
    "znode.container.checkIntervalMs": "1000",
    "znode.container.maxNeverUsedIntervalMs": "0",
}
BUILD_TIMEOUT = 300
PROGRAM_TIMEOUT = 180  # seconds; each program normally finishes in 10-25 s


def target():
    return zkservers.default_target()


@pytest.fixture(scope="module")
def build_dir():
    build = os.environ.get("ZKD_BUILD")
    tmp = None
    if build:
        os.makedirs(build, exist_ok=True)
    else:
        tmp = build = tempfile.mkdtemp(prefix="zkd-curator-go-")
    yield build
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)


def _run_build(argv, what, env=None, cwd=None):
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=BUILD_TIMEOUT, env=env, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.fail("cannot build %s: %s: %s" % (what, " ".join(argv), e), pytrace=False)
    if p.returncode != 0:
        pytest.fail("building %s failed (%s):\n%s"
                    % (what, " ".join(argv), p.stdout.decode("utf-8", "replace")), pytrace=False)


def _require(paths, package):
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
        pytest.fail("%s missing (install Debian %s; scripts/deps.sh does): %s"
                    % (", ".join(os.path.basename(m) for m in missing), package, ", ".join(missing)),
                    pytrace=False)


def curator_classpath(classes):
    jars = [os.path.join(JAVA_LIB, j) for j in CURATOR_JARS]
    binding = os.path.join(JAVA_LIB, SLF4J_BINDING)
    if os.path.exists(binding):
        jars.append(binding)
    return ":".join([classes] + jars)


def build_curator(build):
    _require([os.path.join(JAVA_LIB, j) for j in CURATOR_JARS],
             "libcurator-framework-java libcurator-recipes-java")
    javac = shutil.which("javac") or "/usr/bin/javac"
    classes = os.path.join(build, "curator")
    os.makedirs(classes, exist_ok=True)
    cp = ":".join(os.path.join(JAVA_LIB, j) for j in CURATOR_JARS)
    _run_build([javac, "-nowarn", "-Xlint:-deprecation", "-cp", cp, "-d", classes, CURATOR_SRC,
                os.path.join(os.path.dirname(CURATOR_SRC), "TcpRelay.java")],
               "CuratorTest.java")
    return classes


def build_gozk(build):
    _require([GOZK_PKG], "golang-github-samuel-go-zookeeper-dev")
    go = shutil.which("go") or "/usr/lib/go/bin/go"
    out = os.path.join(build, "gozk_test")
    gotmp = tempfile.mkdtemp(prefix="zkd-gobuild-")
    try:
        env = dict(os.environ)
        env.update({
            "GO111MODULE": "off",
            "GOPATH": "/usr/share/gocode:" + os.path.join(gotmp, "gopath"),
            "GOCACHE": os.path.join(gotmp, "cache"),
            "GOFLAGS": "",
            "GOPROXY": "off",
            "HOME": gotmp,
        })
        _run_build([go, "build", "-o", out, "main.go"], "gozk/main.go", env=env,
                   cwd=os.path.dirname(GOZK_SRC))
    finally:
        shutil.rmtree(gotmp, ignore_errors=True)
    return out


def start_server(server_factory, cfg=None):
    """A fresh server of the configured kind with the container sweep every second (for Apache
    ZooKeeper also as the system properties it actually reads)."""
    full = dict(CONTAINER_CFG)
    full.update(cfg or {})
    return server_factory(cfg=full)  # zkservers passes znode.* to ZooKeeper as -D options


def run_program(argv, server, what, summary):
    """Runs one check program; fails the test with its whole output on any problem."""
    env = dict(os.environ)
    env.pop("JAVA_TOOL_OPTIONS", None)
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=PROGRAM_TIMEOUT, env=env)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
        pytest.fail("%s did not finish within %d s; output so far:\n%s\n--- stderr tail:\n%s\n"
                    "--- server log tail:\n%s"
                    % (what, PROGRAM_TIMEOUT, out, err[-4000:], server.log()[-4000:]), pytrace=False)
    except OSError as e:
        pytest.fail("cannot run %s (%s): %s" % (what, " ".join(argv), e), pytrace=False)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    lines = out.splitlines()
    fails = [l for l in lines if l.startswith("FAIL")]
    oks = [l for l in lines if l.startswith("ok ")]
    alive = server.alive()
    if p.returncode != 0 or fails or not oks or not alive or summary not in out:
        msg = ["%s against %s: exit status %s, %d ok, %d FAIL%s%s" % (
            what, server.kind, p.returncode, len(oks), len(fails),
            "" if alive else ", SERVER DIED",
            "" if summary in out else ", no '%s' line" % summary)]
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


def test_curator(build_dir, server_factory):
    classes = build_curator(build_dir)
    server = start_server(server_factory)
    java = shutil.which("java") or "/usr/bin/java"
    argv = [java, "-Xmx256m",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dorg.slf4j.simpleLogger.log.org.apache.zookeeper=error",
            "-cp", curator_classpath(classes), "CuratorTest", server.hostport]
    run_program(argv, server, "Curator checks (CuratorTest)", "all Curator checks passed")


def test_go_zookeeper(build_dir, server_factory):
    binary = build_gozk(build_dir)
    server = start_server(server_factory)
    run_program([binary, server.hostport], server, "go-zookeeper checks (gozk/main.go)",
                "all go-zookeeper checks passed")
