"""A served worker checks config freshness in the background, not on the request that comes
after a quiet spell (a stream's first would wait for Redis before it is forwarded)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from proxy.snapshot import load_entry
from proxy.snapshot_cache import SnapshotCache

DEADLINE_SECONDS = 10.0


def hget_calls(redis_conn) -> int:
    return redis_conn.info("commandstats").get("cmdstat_hget", {}).get("calls", 0)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.01)


@pytest.fixture
def kept_fresh(settings) -> Iterator[Callable[[SnapshotCache], None]]:
    """`kept_fresh(cache)`: the cache's background checks running (as in a served worker) until
    the test ends, its first check done."""
    stops: list[tuple[threading.Event, threading.Thread]] = []

    def start(cache: SnapshotCache) -> None:
        stop = threading.Event()
        keeper = threading.Thread(target=cache.keep_fresh, args=(stop,), daemon=True)
        keeper.start()
        stops.append((stop, keeper))
        wait_for(lambda: cache.kept_fresh)

    yield start
    for stop, keeper in stops:
        stop.set()
        keeper.join(DEADLINE_SECONDS)


def test_lookups_of_a_kept_fresh_cache_leave_redis_alone(route, redis_conn, settings, kept_fresh):
    route(subdomain="quiet")
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": 3600,
        "CONFIG_DB_CHECK_INTERVAL": 3600,
    }
    worker = SnapshotCache(load_entry, listen=False)
    assert worker.get("quiet") is not None
    kept_fresh(worker)
    # Lookups would now poll Redis on every call; the background check polls instead.
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_CHECK_INTERVAL": 0}
    before = hget_calls(redis_conn)
    for _ in range(20):
        assert worker.get("quiet") is not None
    assert hget_calls(redis_conn) == before


def test_a_kept_fresh_cache_drops_a_changed_gateway_without_a_lookup(
    route, api, settings, kept_fresh
):
    gateway = route(subdomain="fresh")
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": 0.01,
        "CONFIG_DB_CHECK_INTERVAL": 3600,
    }
    worker = SnapshotCache(load_entry, listen=False)  # hears Redis only, as another worker
    assert worker.get("fresh").active
    kept_fresh(worker)
    assert api.patch(f"/api/v1/gateways/{gateway.id}", {"status": "inactive"}).status_code == 200
    wait_for(lambda: "fresh" not in worker.live)
    assert not worker.get("fresh").active


def test_a_cache_checks_on_lookups_again_once_its_keeper_stops(route, redis_conn, settings):
    route(subdomain="inline")
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_CHECK_INTERVAL": 0}
    worker = SnapshotCache(load_entry, listen=False)
    stop = threading.Event()
    stop.set()
    worker.keep_fresh(stop)  # one check, then it stops at once
    assert not worker.kept_fresh
    before = hget_calls(redis_conn)
    worker.get("inline")
    assert hget_calls(redis_conn) > before
