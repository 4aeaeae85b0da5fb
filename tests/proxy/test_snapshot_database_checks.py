"""A served worker makes the config database check in the background, not on the lookup of a
stream after a quiet spell; the lookup keeps the Redis poll (a change is seen at once), and the
database check too while Redis is down."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db.backends.signals import connection_created

from gateway_project import invalidation
from gateways.versions import current_stamp
from proxy.snapshot_cache import SnapshotCache
from tests.e2e.services import wait_until
from tests.gateways.snapshot_workers import deactivate_with_the_publish_lost, other_worker

TIMEOUT = 10.0


def intervals(settings, *, poll: float, database: float) -> None:
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": poll,
        "CONFIG_DB_CHECK_INTERVAL": database,
    }


@pytest.fixture
def in_background() -> Iterator[Callable[[SnapshotCache], None]]:
    """`in_background(cache)`: the cache's database checks made by a background loop (as in a
    served worker) until the test ends."""
    loops: list[tuple[threading.Event, threading.Thread]] = []

    def start(cache: SnapshotCache) -> None:
        stop = threading.Event()
        loop = threading.Thread(target=cache.check_database_in_background, args=(stop,))
        loop.start()
        loops.append((stop, loop))
        wait_until(lambda: cache.database_checked_in_background, timeout=TIMEOUT)

    yield start
    for stop, loop in loops:
        stop.set()
        loop.join(TIMEOUT)


@pytest.fixture
def background_connections() -> Iterator[threading.Event]:
    """Set when a thread other than the test's opens a database connection."""
    opened = threading.Event()
    test_thread = threading.current_thread()

    def on_connect(**kwargs) -> None:
        if threading.current_thread() is not test_thread:
            opened.set()

    connection_created.connect(on_connect)
    yield opened
    connection_created.disconnect(on_connect)


def test_a_lookup_polls_redis_at_once_beside_the_background_database_check(
    route, api, settings, in_background
):
    gateway = route(subdomain="polled")
    intervals(settings, poll=0, database=3600)
    worker = other_worker()
    assert worker.get("polled").active
    in_background(worker)
    assert api.patch(f"/api/v1/gateways/{gateway.id}", {"status": "inactive"}).status_code == 200
    assert not worker.get("polled").active  # the very next lookup, no wait


def test_lookups_leave_a_due_database_check_to_the_background(
    route, settings, in_background, background_connections, django_assert_num_queries
):
    route(subdomain="quiet")
    intervals(settings, poll=3600, database=3600)
    worker = other_worker()
    assert worker.get("quiet") is not None  # a new cache's first lookup checks the database
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 0}  # always due
    in_background(worker)
    with django_assert_num_queries(0):
        for _ in range(20):
            assert worker.get("quiet") is not None
    assert background_connections.wait(TIMEOUT)  # the loop made it


def test_the_background_check_catches_up_a_lost_publish(
    route, api, redis_conn, settings, in_background
):
    gateway = route(subdomain="lost")
    intervals(settings, poll=0, database=3600)
    worker = other_worker()
    assert worker.get("lost").active
    deactivate_with_the_publish_lost(api, redis_conn, gateway)
    assert worker.get("lost").active  # Redis alone cannot tell

    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 0.05}
    in_background(worker)
    wait_until(lambda: "lost" not in worker.live, timeout=TIMEOUT)
    assert not worker.get("lost").active
    stamp = current_stamp()
    assert invalidation.published_counter(stamp.epoch) == stamp.counter  # re-published
    assert invalidation.published_versions(stamp.epoch, [gateway.id]) == {gateway.id: stamp.counter}


def test_an_idle_worker_makes_no_database_check(route, settings, django_assert_num_queries):
    route(subdomain="idle")
    intervals(settings, poll=3600, database=0)
    worker = other_worker()
    worker.get("idle")
    with django_assert_num_queries(2):  # the step after a lookup: the counter, the versions
        worker.database_check_step()
    with django_assert_num_queries(0):  # no lookup since: nothing to keep fresh
        worker.database_check_step()


def test_while_redis_is_down_the_lookup_checks_the_database(
    route, api, settings, in_background, redis_down
):
    gateway = route(subdomain="outage")
    intervals(settings, poll=0, database=3600)
    worker = other_worker()
    assert worker.get("outage").active
    in_background(worker)  # waits an hour before its first check
    response = api.patch(f"/api/v1/gateways/{gateway.id}", {"status": "inactive"})
    assert response.status_code == 200
    assert response["X-Config-Propagation"] == "delayed"  # not published
    assert worker.get("outage").active  # the poll finds Redis down
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 0}
    assert not worker.get("outage").active  # the lookup read the database itself
