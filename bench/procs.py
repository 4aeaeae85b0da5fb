"""Child processes of the benchmark: free loopback ports, start, wait until listening, stop.

Every process started here is registered: `supervised()` stops all those still running when
its block ends, on SIGINT and SIGTERM and on any exception alike.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import requests

LOOPBACK = "127.0.0.1"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Every process `start` started and `stop` has not stopped yet, oldest first.
_started: list[subprocess.Popen] = []


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the run unwinds, stopping what it started on the way."""


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    """Block until `port` accepts connections; fail early if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def wait_for_answer(
    name: str,
    url: str,
    body: dict,
    headers: dict[str, str],
    process: subprocess.Popen,
    **wait: float,
) -> None:
    """Block until a POST of `body` to `url` answers 2xx (a server may listen before it can
    serve); fail early if `process` exits meanwhile. `wait`: `timeout` and `interval` seconds."""
    timeout, interval = wait["timeout"], wait["interval"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        with contextlib.suppress(requests.RequestException):
            if requests.post(url, json=body, headers=headers, timeout=10).ok:
                return
        time.sleep(interval)
    raise RuntimeError(f"{name} did not answer within {timeout} s")


def start(
    args: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start `args` in its own session (its own process group) with stdout and stderr appended
    to `log`, registered until `stop` stops it."""
    with open(log, "ab") as out:
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _started.append(process)
    return process


def signal_group(process: subprocess.Popen, signum: int) -> None:
    """`signum` to the process group `start` gave `process` (its workers too)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def group_left(process: subprocess.Popen) -> bool:
    """Whether a member of the process group of `process` (exited itself) still runs."""
    for pid in psutil.pids():
        with contextlib.suppress(OSError):
            if os.getpgid(pid) == process.pid:
                return True
    return False


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM the process group of `process`, wait for `process`, and SIGKILL the group if it
    does not exit in time (or leaves members behind)."""
    if process.poll() is None:
        signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(process, signal.SIGKILL)
            process.wait(5)
    if group_left(process):
        signal_group(process, signal.SIGKILL)
    with contextlib.suppress(ValueError):
        _started.remove(process)


def stop_all() -> None:
    """Stop every registered process still running, the last started first."""
    for process in reversed(_started[:]):
        stop(process)


def _interrupt(signum: int, frame: object) -> None:
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_IGN)  # a second signal must not cut the clean-up short
    raise Interrupted(signal.Signals(signum).name)


@contextlib.contextmanager
def supervised() -> Iterator[None]:
    """SIGINT and SIGTERM raise `Interrupted` inside the block; however the block ends, every
    process started in it and still running is stopped before this returns."""
    previous = {signum: signal.signal(signum, _interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        try:
            stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def daemon_pid(pid_file: Path, marker: str) -> int | None:
    """The live pid in `pid_file` whose command line contains `marker` (never a reused pid)."""
    try:
        pid = int(pid_file.read_text().strip())
        return pid if marker in " ".join(psutil.Process(pid).cmdline()) else None
    except (FileNotFoundError, ValueError, psutil.Error):
        return None


def kill_pid_file(pid_file: Path, marker: str, timeout: float = 5.0) -> None:
    """Stop the daemon named in `pid_file` if it still runs: SIGTERM, then SIGKILL.

    (Redis, for one, refuses SIGTERM when its final save fails.)
    """
    pid = daemon_pid(pid_file, marker)
    if pid is None:
        return
    process = psutil.Process(pid)
    with contextlib.suppress(psutil.Error):
        process.terminate()
        try:
            process.wait(timeout)
        except psutil.TimeoutExpired:
            process.kill()
