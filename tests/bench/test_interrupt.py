"""An interrupted `python -m bench` stops every server it started: nginx, gunicorn, Redis, mocks."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil
import pytest

from bench.config import REPO_ROOT

START_TIMEOUT_SECONDS = 180
# Each server gets up to 20 s to stop before it is killed (bench.procs.stop), one after the
# other: on a busy machine a whole stop can take more than a minute.
STOP_TIMEOUT_SECONDS = 180
READY = " mode: "  # logged once every server is up and every row configured

pytestmark = pytest.mark.skipif(
    not shutil.which("wrk") or not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
    reason="the bench needs nginx and wrk (make -C bench system-deps)",
)


def lines_of(stream) -> queue.Queue:
    """The lines of `stream`, read on a thread (None at its end)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def wait_for_line(lines: queue.Queue, marker: str) -> list[str]:
    seen = []
    while True:
        line = lines.get(timeout=START_TIMEOUT_SECONDS)
        assert line is not None, "the bench ended before its servers were up:\n" + "".join(seen)
        seen.append(line)
        if marker in line:
            return seen


def command_line(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return f"pid {process.pid}"


@pytest.fixture
def short_tmp_path():
    """A temporary directory with a short path: the embedded Redis servers' unix sockets go
    under it, and a socket path has at most 107 bytes (pytest-xdist's tmp_path is longer)."""
    path = tempfile.mkdtemp(prefix="gw-bench-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_bench_leaves_no_process_behind(signum, short_tmp_path):
    tmp_path = short_tmp_path
    env = {**os.environ, "BENCH_QUICK": "1", "TMPDIR": str(tmp_path)}
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: list[psutil.Process] = []
    try:
        output = wait_for_line(lines_of(bench.stderr), READY)
        started = psutil.Process(bench.pid).children(recursive=True)
        names = {process.name() for process in started}
        assert {"nginx", "redis-server"} <= names, (names, "".join(output))
        assert any("gunicorn" in " ".join(p.cmdline()) for p in started)

        bench.send_signal(signum)
        assert bench.wait(STOP_TIMEOUT_SECONDS) != 0

        _, alive = psutil.wait_procs(started, timeout=5)
        assert [command_line(process) for process in alive] == []
        assert list(tmp_path.iterdir()) == []  # its temporary directory is gone too
    finally:
        if bench.poll() is None:  # failed before its signal: it still stops what it started
            bench.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                bench.wait(STOP_TIMEOUT_SECONDS)
        bench.kill()
        bench.wait()
        for process in started:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
