"""Fixtures of the bench's tests: the bench's own SSE and LLM mock upstreams, events 10 ms
apart."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import procs
from bench.config import REPO_ROOT


def serving_mock(module: str, log: Path) -> Iterator[int]:
    """`python -m <module>` on a free port, events 10 ms apart: its port, until the test ends."""
    port = procs.free_port()
    args = [sys.executable, "-m", module, "--port", str(port), "--interval", "0.01"]
    process = procs.start(args, log=log, cwd=REPO_ROOT)
    try:
        procs.wait_for_port(port, process)
        yield port
    finally:
        procs.stop(process)


@pytest.fixture
def sse_port(tmp_path):
    yield from serving_mock("bench.sse_upstream", tmp_path / "sse.log")


@pytest.fixture
def llm_port(tmp_path):
    yield from serving_mock("bench.llm_upstream", tmp_path / "llm.log")
