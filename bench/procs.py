"""Child processes of the benchmark: free loopback ports, start, wait until listening, stop."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"


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


def start(
    args: list[str], *, log: Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.Popen:
    """Start `args` in its own session with stdout and stderr appended to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """SIGTERM `process` (by its pid), wait, and SIGKILL it if it does not exit in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


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
