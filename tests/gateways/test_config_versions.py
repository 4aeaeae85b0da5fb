"""Config versions: one bump per admin write, for the touched gateway only; bounded caches."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db.backends.signals import connection_created

from gateway_project import invalidation
from gateways.versions import DIRECTORY, current_stamp, versions_of
from proxy.snapshot import load_entry, snapshots
from proxy.snapshot_cache import SnapshotCache
from tests.builders import in_process_post, routed_gateway
from tests.gateways.snapshot_workers import deactivate_with_the_publish_lost, other_worker

PLUGINS = [
    {"name": name, "stage": "pre_request", "priority": priority, "settings": settings}
    for priority, (name, settings) in enumerate(
        [
            ("rate_limiter", {"limits": {"global": {"limit": 1000, "window": "1m"}}}),
            ("request_size_limiter", {"allowed_payload_size": 10, "size_unit": "megabytes"}),
            ("ip_blacklist", {"ips": ["192.0.2.1"]}),
            ("cors", {"allowed_origins": ["https://a.example"], "allowed_methods": ["GET"]}),
        ]
    )
]


@pytest.fixture
def polling(settings):
    """Poll Redis on every lookup, as a worker does every CONFIG_CHECK_INTERVAL."""
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_CHECK_INTERVAL": 0}


def test_one_admin_write_bumps_the_counter_once_for_its_gateway_only(route, api, redis_conn):
    alpha, beta = route(subdomain="alpha"), route(subdomain="beta")
    before = current_stamp()
    beta_version = versions_of([beta.id])[beta.id]
    response = api.patch(
        f"/api/v1/gateways/{alpha.id}", {"required_plugins": PLUGINS}, format="json"
    )
    assert response.status_code == 200, response.json()
    after = current_stamp()
    assert after.counter == before.counter + 1
    assert versions_of([alpha.id, beta.id]) == {alpha.id: after.counter, beta.id: beta_version}
    assert invalidation.published_counter(after.epoch) == after.counter
    published = invalidation.published_versions(after.epoch, [alpha.id, beta.id])
    assert published == {alpha.id: after.counter, beta.id: beta_version}


@pytest.mark.parametrize("kind", ["gateway", "rule"])
def test_one_plugins_write_bumps_the_counter_once_for_its_gateway_only(route, api, kind):
    alpha, beta = route(subdomain="alpha"), route(subdomain="beta")
    owner = {"type": kind, "id": alpha.id if kind == "gateway" else alpha.rule["id"]}
    writes = [
        ("post", {"plugins": PLUGINS[:2]}),
        ("put", {"updates": [{"operation": "add", "plugin": PLUGINS[2]}] + EDIT_AND_DELETE}),
        ("delete", {"plugins": ["rate_limiter", "ip_blacklist"]}),
    ]
    for method, body in writes:
        before = current_stamp()
        beta_version = versions_of([beta.id])[beta.id]
        response = getattr(api, method)("/api/v1/plugins", {**owner, **body}, format="json")
        assert response.status_code == 204, (method, response.content)
        after = current_stamp()
        assert after.counter == before.counter + 1, method
        assert versions_of([alpha.id, beta.id]) == {alpha.id: after.counter, beta.id: beta_version}
        assert invalidation.published_counter(after.epoch) == after.counter


EDIT_AND_DELETE = [
    {"operation": "edit", "plugin": {**PLUGINS[0], "priority": 9}},
    {"operation": "delete", "plugin_name": "request_size_limiter"},
]


def test_a_write_rebuilds_its_gateway_and_leaves_the_others_warm(route, api, polling):
    alpha = route(subdomain="alpha")
    route(subdomain="beta")
    worker = other_worker()
    alpha_before, beta_before = worker.get("alpha"), worker.get("beta")
    assert api.patch(f"/api/v1/gateways/{alpha.id}", {"status": "inactive"}).status_code == 200
    alpha_after = worker.get("alpha")
    assert alpha_after is not alpha_before
    assert alpha_before.active
    assert not alpha_after.active
    assert worker.get("beta") is beta_before


def test_a_new_gateway_replaces_a_remembered_unknown_host(route, polling):
    worker = other_worker()
    assert worker.get("late") is None
    route(subdomain="late")
    assert worker.get("late").subdomain == "late"


def test_a_renamed_gateway_leaves_its_old_host(route, api, polling):
    gateway = route(subdomain="before")
    worker = other_worker()
    assert worker.get("before") is not None
    assert api.patch(f"/api/v1/gateways/{gateway.id}", {"subdomain": "after"}).status_code == 200
    assert worker.get("before") is None
    assert worker.get("after").id == gateway.id


def test_unknown_hosts_never_evict_a_live_gateway(
    api, upstream, proxy_client, django_assert_num_queries, settings
):
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 3600}
    # In the test's transaction (db): lookups keep one connection, which makes 10,001 quick.
    gateway = routed_gateway(
        in_process_post(api), subdomain="live", targets=[("127.0.0.1", upstream.port)]
    )
    snapshots.clear()
    warm = proxy_client.get("/x", HTTP_HOST="live.localhost", HTTP_X_API_KEY=gateway.key)
    assert warm.status_code == 200
    live = snapshots.get("live")
    for _ in range(10_001):
        assert snapshots.get(f"u{uuid.uuid4().hex[:20]}") is None
    assert len(snapshots.unknown) == 10_000
    assert snapshots.get("live") is live
    with django_assert_num_queries(0):
        response = proxy_client.get("/x", HTTP_HOST="live.localhost", HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200


def test_the_live_cache_is_a_bounded_lru(route, settings):
    for name in ("one", "two", "three"):
        route(subdomain=name)
    settings.GATEWAY = {**settings.GATEWAY, "SNAPSHOT_CACHE_SIZE": 2}
    worker = other_worker()
    one = worker.get("one")
    worker.get("two")
    assert worker.get("one") is one  # used last: "two" is now the oldest
    worker.get("three")
    assert "one" in worker.live
    assert "three" in worker.live
    assert "two" not in worker.live


def test_concurrent_lookups_of_a_cold_gateway_build_once(route):
    route(subdomain="cold")
    builds: list[str] = []

    def counting_load(subdomain: str):
        builds.append(subdomain)
        return load_entry(subdomain)

    worker = SnapshotCache(counting_load, listen=False)
    worker.get("warmup-unknown")  # the first database check is not what is measured
    opened: list[object] = []

    def on_connect(connection, **kwargs):
        opened.append(connection)

    results: list[object] = []
    start = threading.Barrier(40)

    def lookup() -> None:
        start.wait()
        results.append(worker.get("cold"))

    connection_created.connect(on_connect)
    try:
        threads = [threading.Thread(target=lookup) for _ in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        connection_created.disconnect(on_connect)
    assert builds == ["warmup-unknown", "cold"]
    assert len(results) == 40
    assert len({id(r) for r in results}) == 1
    assert len(opened) <= 2  # one build (plus at most one version check), not one per request


def test_lookups_while_a_poll_is_in_flight_start_no_other(route, polling, redis_conn, settings):
    """A worker too busy to read a poll's reply within the interval starts no second poll: each
    would hold a Redis connection of its own, kept by the pool (bench/README.md)."""
    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 3600}
    route(subdomain="warm")
    worker = other_worker()
    worker.get("warm")
    clients = len(redis_conn.client_list())
    start = threading.Barrier(20)

    def lookup() -> None:
        start.wait()
        worker.get("warm")

    threads = [threading.Thread(target=lookup) for _ in range(20)]
    redis_conn.client_pause(300)  # Redis answers nothing for 300 ms: the first poll is slow
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(redis_conn.client_list()) - clients <= 1


def test_directory_scope_is_bumped_by_gateway_writes(route):
    route(subdomain="dir")
    assert versions_of([DIRECTORY])[DIRECTORY] == current_stamp().counter - 4  # then 4 child writes


def test_a_lost_publish_is_caught_up_from_the_database(route, api, redis_conn, settings):
    gateway = route(subdomain="lost")
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": 0,
        "CONFIG_DB_CHECK_INTERVAL": 3600,
    }
    worker = other_worker()
    assert worker.get("lost").active
    deactivate_with_the_publish_lost(api, redis_conn, gateway)
    assert worker.get("lost").active  # Redis alone cannot tell

    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 0}
    assert not worker.get("lost").active
    stamp = current_stamp()
    assert invalidation.published_counter(stamp.epoch) == stamp.counter  # re-published
    assert invalidation.published_versions(stamp.epoch, [gateway.id]) == {gateway.id: stamp.counter}


def test_a_redis_restarted_empty_is_refilled_from_the_database(route, redis_conn, settings):
    gateway = route(subdomain="refill")
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": 0,
        "CONFIG_DB_CHECK_INTERVAL": 3600,
    }
    worker = other_worker()
    worker.get("refill")
    stamp = current_stamp()
    redis_conn.delete(invalidation.versions_key(stamp.epoch))  # as after a restart without data
    worker.get("refill")
    assert invalidation.published_counter(stamp.epoch) == stamp.counter
    assert invalidation.published_versions(stamp.epoch, [gateway.id]) == {
        gateway.id: versions_of([gateway.id])[gateway.id]
    }


def test_a_lost_publish_followed_by_a_published_one_is_caught_up(route, api, redis_conn, settings):
    """Redis's counter is current (a later write was published), one gateway's field is not."""
    lost, later = route(subdomain="lost-first"), route(subdomain="later")
    settings.GATEWAY = {
        **settings.GATEWAY,
        "CONFIG_CHECK_INTERVAL": 0,
        "CONFIG_DB_CHECK_INTERVAL": 3600,
    }
    worker = other_worker()
    assert worker.get("lost-first").active
    key = invalidation.versions_key(current_stamp().epoch)
    field = f"s:{lost.id}"
    old_version = redis_conn.hget(key, field)
    assert api.patch(f"/api/v1/gateways/{lost.id}", {"status": "inactive"}).status_code == 200
    redis_conn.hset(key, field, old_version)  # this publish was lost...
    assert api.patch(f"/api/v1/gateways/{later.id}", {"name": "x"}).status_code == 200  # not this
    assert worker.get("lost-first").active

    settings.GATEWAY = {**settings.GATEWAY, "CONFIG_DB_CHECK_INTERVAL": 0}
    assert not worker.get("lost-first").active
    assert int(redis_conn.hget(key, field)) == versions_of([lost.id])[lost.id]
