"""Fixtures of the bench's tests: the bench's own SSE mock upstream, events 10 ms apart."""

from __future__ import annotations

import sys

import pytest

from bench import procs
from bench.config import REPO_ROOT


@pytest.fixture
def sse_port(tmp_path):
    port = procs.free_port()
    args = [sys.executable, "-m", "bench.sse_upstream", "--port", str(port)]
    process = procs.start(args + ["--interval", "0.01"], log=tmp_path / "sse.log", cwd=REPO_ROOT)
    try:
        procs.wait_for_port(port, process)
        yield port
    finally:
        procs.stop(process)
