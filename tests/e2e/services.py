"""A throwaway PostgreSQL cluster and redis-server for e2e tests (Debian binaries, free ports)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
import redis

from tests.upstream import free_port

REDIS_SERVER = "/usr/bin/redis-server"


def postgres_bin_dir() -> Path | None:
    """The directory of initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    for directory in candidates:
        if (directory / "pg_ctl").exists() and (directory / "postgres").exists():
            return directory
    return None


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (REDIS_SERVER if Path(REDIS_SERVER).exists() else None)


def require_services() -> None:
    """Skip (with the reason) when the PostgreSQL or Redis server binaries are not installed."""
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    if redis_server_binary() is None:
        pytest.skip("redis-server is not installed")


def wait_until(check, timeout: float, interval: float = 0.05) -> float:
    """Poll `check()` until it is true; the seconds it took (AssertionError at the deadline)."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not reached within {timeout} s")
        time.sleep(interval)
    return time.monotonic() - started


class PostgresServer:
    """initdb into a temp dir, serve on a free loopback port; run as `nobody` when we are root
    (postgres refuses to run as root)."""

    def __init__(self, max_connections: int = 100, database: str = "gateway") -> None:
        self.bin = postgres_bin_dir()
        # /tmp rather than $TMPDIR: the server's user (nobody, when we are root) must reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="gw-pg-", dir="/tmp"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.max_connections = max_connections
        self.database = database
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "nobody", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.directory)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            shutil.chown(self.directory, "nobody")
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N", "-E", "UTF8"
        )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            f"-c max_connections={self.max_connections} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "log"),
            "-w",
            "start",
        )
        with self.connect("postgres") as conn:
            conn.autocommit = True
            conn.execute(f'CREATE DATABASE "{self.database}"')
        return self

    def connect(self, database: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=database or self.database
        )

    def connections_to_database(self) -> int:
        """Client connections currently open to the gateway's database (any state)."""
        with self.connect("postgres") as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND backend_type = 'client backend'",
                [self.database],
            ).fetchone()
        return row[0]

    def sessions_opened(self) -> int:
        """Connections ever made to the gateway's database (counted at each session's end)."""
        with self.connect("postgres") as conn:
            row = conn.execute(
                "SELECT sessions FROM pg_stat_database WHERE datname = %s", [self.database]
            ).fetchone()
        return row[0]

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


class RedisServer:
    """Debian's redis-server on a free loopback port, without persistence; may be stopped."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._ping, timeout=10)
        return self

    def _ping(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
