"""Shared pytest fixtures: servers started per test module or per test, stopped by PID."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import zkservers  # noqa: E402


@pytest.fixture(scope="module")
def server():
    """One server (zkd by default, ZK_TARGET=zookeeper for the reference) per test module."""
    s = zkservers.Server().start()
    yield s
    s.stop()


@pytest.fixture
def server_factory():
    """Start servers with custom zoo.cfg keys; every one is stopped at the end of the test."""
    started = []

    def make(kind=None, cfg=None, tick_ms=2000, start=True):
        s = zkservers.Server(kind=kind, cfg=cfg, tick_ms=tick_ms)
        started.append(s)
        return s.start() if start else s

    yield make
    errors = []
    for s in started:
        try:
            s.stop()
        except Exception as e:  # report every failing stop, not just the first
            errors.append(str(e))
    if errors:
        raise AssertionError("\n".join(errors))
