"""Attack replays of the operational holes: the embedded Redis crashing or outliving gunicorn."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway_project.embedded_redis import stop_embedded_redis
from tests.builders import RoutedGateway, routed_gateway
from tests.e2e.server import GatewayServer

pytestmark = pytest.mark.e2e

DEADLINE_SECONDS = 15.0


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):  # ESRCH: exited while read
        return False
    return state not in ("Z", "X")


def await_true(condition: Callable[[], object], what: str) -> object:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def redis_servers_of(var_dir: Path) -> list[int]:
    """Live redis-server processes on the socket of `var_dir`, whoever started them (redis
    shows its socket in its process title)."""
    needle = str(var_dir / "redis.sock").encode()
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:  # exited while read
            continue
    return [pid for pid in pids if process_running(pid)]


def redis_pid(var_dir: Path) -> int | None:
    try:
        pid = int((var_dir / "redis.pid").read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_running(pid) else None


@pytest.fixture
def embedded_server(tmp_path, upstream):
    """A gunicorn gateway on the embedded Redis its master runs (REDIS_URL unset), limited to 3
    requests a minute."""
    server = GatewayServer(tmp_path, None, workers=2).start()
    gateway = routed_gateway(
        server.post,
        subdomain="ops",
        targets=[("127.0.0.1", upstream.port)],
        required_plugins=[
            {
                "name": "rate_limiter",
                "stage": "pre_request",
                "priority": 1,
                "settings": {"limits": {"global": {"limit": 3, "window": "1m"}}},
            }
        ],
    )
    yield server, gateway
    server.stop()
    stop_embedded_redis(tmp_path)  # whatever the test did, leave nothing running


def assert_limit_enforced(server: GatewayServer, gateway: RoutedGateway) -> None:
    statuses = [server.proxy("ops", "/x", key=gateway.key).status_code for _ in range(4)]
    assert 429 in statuses, statuses


def test_killed_embedded_redis_is_restarted_and_limits_work_again(embedded_server):
    server, gateway = embedded_server
    assert_limit_enforced(server, gateway)
    killed = redis_pid(server.var_dir)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    restarted = await_true(
        lambda: (pid := redis_pid(server.var_dir)) and pid != killed and pid, "a new redis-server"
    )
    assert not process_running(killed)

    def limited_again() -> bool:  # headers only come with an answer from Redis (no fail-open)
        return "X-RateLimit-Limit" in server.proxy("ops", "/x", key=gateway.key).headers

    await_true(limited_again, "rate limiting to answer again")
    assert_limit_enforced(server, gateway)
    assert redis_pid(server.var_dir) == restarted


@pytest.mark.parametrize(
    "signals",
    [(signal.SIGHUP, signal.SIGTERM), (signal.SIGTERM,), (signal.SIGINT,), (signal.SIGQUIT,)],
    ids=["hup-then-term", "term", "int", "quit"],
)
def test_embedded_redis_stops_with_the_master(embedded_server, signals):
    server, gateway = embedded_server
    pid = redis_pid(server.var_dir)
    assert pid is not None
    log = server.var_dir / "gunicorn.log"
    for sig in signals[:-1]:
        server.process.send_signal(sig)
        await_true(lambda: "Hang up" in log.read_text(), "the master to reload")
        await_true(
            lambda: server.proxy("ops", "/x", key=gateway.key).status_code in (200, 429),
            "the reloaded workers to serve",
        )
    server.process.send_signal(signals[-1])
    server.process.wait(timeout=DEADLINE_SECONDS)
    await_true(lambda: not process_running(pid), f"redis-server {pid} to exit")
    assert not (server.var_dir / "redis.sock").exists()


def test_embedded_redis_does_not_outlive_a_killed_master(embedded_server):
    server, _ = embedded_server
    pid = redis_pid(server.var_dir)
    assert pid is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=DEADLINE_SECONDS)
    await_true(lambda: not process_running(pid), f"redis-server {pid} to exit")


@pytest.mark.parametrize(
    "gunicorn_args",
    [
        ("--worker-class", "gateway_project.no_such_module.Worker"),  # e.g. `packaging` missing
        ("gateway_project.no_such_module:application",),
    ],
    ids=["worker-class-import-fails", "wsgi-import-fails"],
)
def test_no_embedded_redis_outlives_a_gunicorn_whose_workers_cannot_boot(tmp_path, gunicorn_args):
    server = GatewayServer(tmp_path, None, workers=2)
    server.manage("migrate", "--noinput")  # as `make run` does before starting gunicorn
    try:
        assert server.launch(*gunicorn_args).wait(timeout=DEADLINE_SECONDS) != 0
        await_true(lambda: not redis_servers_of(tmp_path), "no redis-server to be left")
    finally:
        server.stop()
        stop_embedded_redis(tmp_path)


def test_a_manage_py_command_leaves_the_masters_redis_running(embedded_server):
    server, gateway = embedded_server
    pid = redis_pid(server.var_dir)
    assert pid is not None
    server.manage("create_admin_token", "--username", "second")
    assert redis_servers_of(server.var_dir) == [pid]
    assert_limit_enforced(server, gateway)
