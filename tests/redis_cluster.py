"""A throwaway 3-master Redis Cluster from the system `redis-server`, on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.upstream import free_port

MASTERS = 3
READY_TIMEOUT_SECONDS = 20.0


def cluster_binaries() -> tuple[str, str] | None:
    """Paths of redis-server and redis-cli when both exist and the server runs, else None."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if not server or not cli:
        return None
    try:
        subprocess.run([server, "--version"], check=True, capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return server, cli


class RedisClusterNodes:
    """`start()` the nodes, join them with `redis-cli --cluster create`, wait for
    cluster_state:ok; `stop()` kills them and removes their directories."""

    def __init__(self, server: str, cli: str) -> None:
        self.server, self.cli = server, cli
        self.root = Path(tempfile.mkdtemp(prefix="gw-cluster-"))
        self.ports = [free_port() for _ in range(MASTERS)]
        self.processes: list[subprocess.Popen] = []

    @property
    def url(self) -> str:
        """The gateway's REDIS_URL for this cluster (one seed node; the rest is discovered)."""
        return f"redis+cluster://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> RedisClusterNodes:
        for port in self.ports:
            self.processes.append(self._start_node(port))
        for port in self.ports:
            self._await(lambda p=port: self._client(p).ping(), f"node {port} to answer")
        subprocess.run(
            [self.cli, "--cluster", "create"]
            + [f"127.0.0.1:{port}" for port in self.ports]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=READY_TIMEOUT_SECONDS,
        )
        for port in self.ports:
            self._await(
                lambda p=port: self._client(p).cluster("INFO")["cluster_state"] == "ok",
                f"node {port} to report cluster_state:ok",
            )
        return self

    def _start_node(self, port: int) -> subprocess.Popen:
        directory = self.root / str(port)
        directory.mkdir()
        config = [
            f"port {port}",
            f"cluster-port {free_port()}",  # the bus port; port + 10000 may be taken or too big
            "bind 127.0.0.1",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            "cluster-node-timeout 2000",
            f"dir {directory}",
            'save ""',
            "appendonly no",
        ]
        (directory / "redis.conf").write_text("\n".join(config) + "\n")
        return subprocess.Popen(
            [self.server, str(directory / "redis.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def _client(port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1, decode_responses=True)

    def _await(self, condition, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            try:
                if condition():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"Redis Cluster: timed out waiting for {what}")

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait(10)
        shutil.rmtree(self.root, ignore_errors=True)
