"""Fixtures of the observability tests: samples of the in-process registry, the access log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from observability.metrics import pending


def sample(name: str, **labels: str) -> float:
    """The current value of one sample of this process's registry (0 when absent), after the
    process's pending counts are flushed (as the once-a-second flusher or a scrape does)."""
    pending.flush()
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def access_log_file(settings, tmp_path) -> Path:
    """The access log written to a file of this test; `lines(path)` reads it back."""
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def finished(response):
    """The response read to its end, as a server sends it: a streamed one is closed then, and
    observed (metrics, access log and rollup are written when a stream ends)."""
    if response.streaming:
        response.content_read = b"".join(response.streaming_content)
    return response
