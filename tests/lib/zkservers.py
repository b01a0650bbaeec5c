"""Start and stop a zkd or an Apache ZooKeeper 3.8 server on a free loopback port.

Used by every Python test (integration, differential, malformed input). Servers are
started by the test and stopped by PID, never by name.

Environment:
  ZKD_BIN     path of the zkd binary (default: <repo>/bin/zkd)
  ZK_TARGET   'zkd' (default) or 'zookeeper': which server the integration tests use.
              Running the suite with ZK_TARGET=zookeeper validates the tests themselves
              against the reference implementation.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ZK_JAR = "/usr/share/java/zookeeper.jar"
ZK_CONF_DIR = "/etc/zookeeper/conf"


# zoo.cfg keys that Apache ZooKeeper only honours as JVM system properties of exactly
# this name (it turns unknown zoo.cfg keys into "zookeeper.<key>" properties, which these
# readers never look at). zkd reads them from zoo.cfg; for ZooKeeper the launcher also
# passes them as -D options so both servers run the same configuration.
JVM_PROPERTY_KEYS = ("jute.maxbuffer", "znode.container.checkIntervalMs",
                     "znode.container.maxNeverUsedIntervalMs", "znode.container.maxPerMinute")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def zkd_bin():
    return os.environ.get("ZKD_BIN", os.path.join(REPO, "bin", "zkd"))


def default_target():
    return os.environ.get("ZK_TARGET", "zkd")


def four_letter(port, word, host="127.0.0.1", timeout=5.0):
    """Send a four-letter word and return the whole text answer."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(word.encode() if isinstance(word, str) else word)
        chunks = []
        while True:
            d = s.recv(65536)
            if not d:
                break
            chunks.append(d)
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        s.close()


class Server:
    """One standalone server. kind is 'zkd' or 'zookeeper'.

    cfg: extra zoo.cfg keys (strings). The defaults below are written for both kinds;
    ZooKeeper turns unknown keys into zookeeper.* system properties, as zkd reads them.
    """

    def __init__(self, kind=None, cfg=None, tick_ms=2000, keep_dir=False):
        self.kind = kind or default_target()
        # keep_dir: stop() leaves self.dir (zoo.cfg, server.log, the default dataDir) in
        # place; the caller removes it with cleanup(). A dataDir passed in cfg lies outside
        # self.dir and is never removed by this class, whatever keep_dir says.
        self.keep_dir = keep_dir
        if self.kind not in ("zkd", "zookeeper"):
            raise ValueError("unknown server kind %r" % self.kind)
        self.dir = tempfile.mkdtemp(prefix="zkt-%s-" % self.kind)
        self.port = free_port()
        self.cfg = {
            "tickTime": str(tick_ms),
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "dataDir": os.path.join(self.dir, "data"),
            "4lw.commands.whitelist": "*",
            "extendedTypesEnabled": "true",
            "admin.enableServer": "false",
        }
        if cfg:
            self.cfg.update(cfg)
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    def write_cfg(self):
        os.makedirs(self.cfg["dataDir"], exist_ok=True)
        path = os.path.join(self.dir, "zoo.cfg")
        with open(path, "w") as f:
            for k, v in self.cfg.items():
                f.write("%s=%s\n" % (k, v))
        return path

    def start(self, timeout=30.0):
        cfg_path = self.write_cfg()
        log = open(self.log_path, "ab")
        if self.kind == "zkd":
            binary = zkd_bin()
            if not os.access(binary, os.X_OK):
                raise RuntimeError("zkd binary not found at %s (build it or set ZKD_BIN)" % binary)
            argv = [binary, cfg_path]
        else:
            if not os.path.exists(ZK_JAR):
                raise RuntimeError("Apache ZooKeeper not installed (%s missing); run scripts/deps.sh" % ZK_JAR)
            java = shutil.which("java") or "/usr/bin/java"
            argv = [java, "-Xmx512m", "-cp", "%s:%s" % (ZK_CONF_DIR, ZK_JAR),
                    "-Dzookeeper.log.dir=%s" % self.dir,
                    "-Dzookeeper.root.logger=WARN,CONSOLE"]
            argv += ["-D%s=%s" % (k, v) for k, v in self.cfg.items() if k in JVM_PROPERTY_KEYS]
            argv += ["org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg_path]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s during startup; log:\n%s"
                                   % (self.kind, self.proc.returncode, self.log()))
            try:
                if self.kind == "zkd" or four_letter(self.port, "ruok", timeout=1.0) == "imok":
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=1.0)
                    s.close()
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start listening on %d" % (self.kind, self.port))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True):
        """Stop by PID. For zkd, a clean SIGTERM shutdown must exit 0 (ASan/LSan clean)."""
        if self.proc is None:
            return 0
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait()
                if check:
                    raise RuntimeError("%s did not stop on SIGTERM" % self.kind)
        self.proc = None
        if check and self.kind == "zkd" and rc != 0:
            raise RuntimeError("zkd exited with %s (sanitizer report?); log:\n%s" % (rc, self.log()))
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def kill(self, timeout=20):
        """SIGKILL by PID (a crash: no shutdown code runs) and wait for the exit. Removes
        nothing: self.dir and the dataDir stay for a restart (start() again) or for
        inspection. Call cleanup() to remove self.dir afterwards (stop() after kill() is a
        no-op and removes nothing). Returns the exit status (-9), or None if not running."""
        if self.proc is None:
            return None
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGKILL)
            rc = self.proc.wait(timeout=timeout)
        self.proc = None
        return rc

    def cleanup(self):
        """Remove self.dir (zoo.cfg, server.log, the default dataDir). Stops the server
        first if it is still running."""
        if self.proc is not None:
            self.stop(check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
