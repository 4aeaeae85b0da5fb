"""rate_limiter with limits above LOG_LIMIT: bounded per-bucket counts, still never over."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from plugins.base import Plugin
from plugins.builtin.rate_limiter import BUCKETS_PER_WINDOW, LOG_LIMIT
from plugins.sdk.context import PluginRejection
from tests.plugins.helpers import make_plugin, make_request

LIMIT = LOG_LIMIT + 1


def limiter(limit: int, window: str) -> Plugin:
    return make_plugin("rate_limiter", {"limits": {"global": {"limit": limit, "window": window}}})


def admitted(plugin: Plugin) -> bool:
    try:
        plugin.pre_request(make_request())
    except PluginRejection:
        return False
    return True


def record_key(plugin: Plugin) -> str:
    return plugin.keys(make_request())[0]


@pytest.mark.django_db
def test_admits_exactly_the_limit_and_keeps_counts_not_requests(redis_conn):
    plugin = limiter(LIMIT, "1m")
    results = [admitted(plugin) for _ in range(LIMIT + 50)]
    assert results.count(True) == LIMIT
    assert results[LIMIT:] == [False] * 50
    key = record_key(plugin)
    record = redis_conn.hgetall(key)
    buckets = {field: int(count) for field, count in record.items() if field not in (b"t", b"f")}
    assert int(record[b"t"]) == sum(buckets.values()) == LIMIT
    assert int(record[b"f"]) == min(int(index) for index in buckets)
    assert len(buckets) < 10  # a few buckets of 600 ms, not a thousand entries


@pytest.mark.django_db
def test_concurrent_requests_never_exceed_the_limit(redis_conn):
    plugin = limiter(LIMIT, "1m")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: admitted(plugin), range(LIMIT + 300)))
    assert results.count(True) == LIMIT


@pytest.mark.django_db
def test_the_record_stays_bounded_as_the_window_slides(redis_conn):
    plugin = limiter(100_000, "300ms")
    key = record_key(plugin)
    deadline = time.monotonic() + 1.0
    largest = 0
    while time.monotonic() < deadline:
        assert admitted(plugin)
        largest = max(largest, redis_conn.hlen(key))
    assert largest <= BUCKETS_PER_WINDOW + 1 + 2  # the buckets, the total and the oldest
    record = redis_conn.hgetall(key)
    assert int(record[b"t"]) == sum(int(c) for f, c in record.items() if f not in (b"t", b"f"))
    time.sleep(0.7)  # idle for longer than the window: everything is dropped
    assert admitted(plugin)
    assert {f: int(c) for f, c in redis_conn.hgetall(key).items() if f != b"f"}.get(b"t") == 1
    assert redis_conn.hlen(key) == 3


@pytest.mark.django_db
def test_a_slot_frees_when_its_bucket_leaves_the_window(redis_conn):
    plugin = limiter(LIMIT, "2s")  # buckets of 20 ms
    started = time.monotonic()
    assert all(admitted(plugin) for _ in range(LIMIT))
    request = make_request()
    with pytest.raises(PluginRejection) as rejected:
        plugin.pre_request(request)
    assert 1 <= int(rejected.value.headers["Retry-After"]) <= 2
    assert request.response_headers["X-RateLimit-Remaining"] == "0"
    time.sleep(max(0.0, started + 2.1 - time.monotonic()))  # window + a few buckets
    assert admitted(plugin)


@pytest.mark.django_db
def test_every_scope_reports_its_limit_remaining_and_reset(redis_conn):
    plugin = make_plugin(
        "rate_limiter",
        {
            "limits": {
                "global": {"limit": LIMIT, "window": "1m"},  # buckets
                "per_ip": {"limit": 3, "window": "10s"},  # a request log
                "per_user": {"limit": 5, "window": "1h"},
            }
        },
    )
    for _ in range(2):
        request = make_request(api_key_id="key-1")
        before = time.time()
        plugin.pre_request(request)
    headers = request.response_headers
    remaining = {"global": LIMIT - 2, "per_ip": 1, "per_user": 3}
    window = {"global": 60, "per_ip": 10, "per_user": 3600}
    for scope, left in remaining.items():
        assert headers[f"X-RateLimit-{scope}-Limit"] == str(left + 2)
        assert headers[f"X-RateLimit-{scope}-Remaining"] == str(left)
        reset = int(headers[f"X-RateLimit-{scope}-Reset"])  # the first request's slot frees
        assert before - 1 <= reset - window[scope] <= time.time() + 2
    assert [headers[f"X-RateLimit-{n}"] for n in ("Limit", "Remaining")] == ["3", "1"]
    assert headers["X-RateLimit-Reset"] == headers["X-RateLimit-per_ip-Reset"]
    assert len(headers) == 12
