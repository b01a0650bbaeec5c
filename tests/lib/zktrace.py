"""strace a running server (by PID) around a block of test traffic.

Used by the tests that count zkd's own system calls (reply batching, group commit).
"""
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time


class Trace:
    def __init__(self):
        self.lines = []

    def calls(self, *names):
        """Lines of the trace that are calls of any of the given system calls."""
        pat = re.compile(r"\b(%s)\(" % "|".join(names))
        return [l for l in self.lines if pat.search(l)]


@contextlib.contextmanager
def strace(pid, syscalls, attach_timeout=10.0, paths=False):
    """Traces the given system calls of pid and its threads for the block's duration;
    the Trace it yields holds the lines once the block ends. With paths, every file
    descriptor is shown with its path, as in fdatasync(7</dir/log.1>). Fails loudly if
    strace is missing or cannot attach."""
    if shutil.which("strace") is None:
        raise RuntimeError("strace is required (scripts/deps.sh installs it)")
    out = tempfile.NamedTemporaryFile(prefix="zkd-strace-", delete=False)
    out.close()
    proc = subprocess.Popen(["strace", "-f", "-qq"] + (["-y"] if paths else [])
                            + ["-e", "trace=" + ",".join(syscalls), "-o", out.name,
                               "-p", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    trace = Trace()
    try:
        # strace prints nothing when attached with -qq: watch TracerPid instead
        deadline = time.monotonic() + attach_timeout
        while True:
            with open("/proc/%d/status" % pid) as f:
                if re.search(r"TracerPid:\s+[1-9]", f.read()):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("strace did not attach to %d" % pid)
            time.sleep(0.02)
        yield trace
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        with open(out.name) as f:
            trace.lines = f.read().splitlines()
        os.unlink(out.name)
