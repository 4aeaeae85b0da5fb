"""One gunicorn worker of the gateway's class in its own process, serving a test WSGI app."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.upstream import free_port

WORKER = "gateway_project.workers.GatewayGeventWorker"


@contextlib.contextmanager
def gateway_worker(app: str, *options: str) -> Iterator[int]:
    """The port of one gateway worker serving `app` ("module:callable"), with gunicorn's
    command-line `options`, stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-k", WORKER, "-w", "1"]
        + ["-b", f"127.0.0.1:{port}", *options, app],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            break
    try:
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
