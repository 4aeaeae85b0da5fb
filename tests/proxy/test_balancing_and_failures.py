"""Load balancing, passive health, retries, and 502/504 answers against real servers."""

from __future__ import annotations

import json
from collections import Counter

from tests.upstream import free_port

HOST = "api.localhost"


def get(client, gateway, path="/x", method="get"):
    return getattr(client, method)(path, HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)


def test_round_robin_spreads_evenly(route, upstreams, proxy_client):
    servers = [upstreams.start() for _ in range(3)]
    gateway = route(targets=[("127.0.0.1", s.port) for s in servers])
    for _ in range(30):
        assert get(proxy_client, gateway).status_code == 200
    assert [len(s.seen) for s in servers] == [10, 10, 10]


def test_weighted_round_robin_follows_weights(route, api, upstreams, proxy_client):
    heavy, light = upstreams.start(), upstreams.start()
    gateway = route(targets=[("127.0.0.1", heavy.port)], algorithm="weighted-round-robin")
    url = f"/api/v1/gateways/{gateway.id}/upstreams/{gateway.upstream['id']}"
    targets = [
        {"host": "127.0.0.1", "port": heavy.port, "weight": 3},
        {"host": "127.0.0.1", "port": light.port, "weight": 1},
    ]
    assert api.patch(url, {"targets": targets}, format="json").status_code == 200
    for _ in range(40):
        get(proxy_client, gateway)
    assert (len(heavy.seen), len(light.seen)) == (30, 10)


def read(response) -> int:
    """Read a proxied answer to the end, as a client does (Django then closes it)."""
    b"".join(response.streaming_content)
    return response.status_code


def test_least_conn_counts_a_stream_until_its_body_ends(route, upstreams, proxy_client):
    first, second = upstreams.start(), upstreams.start()
    gateway = route(
        targets=[("127.0.0.1", first.port), ("127.0.0.1", second.port)], algorithm="least-conn"
    )
    stream = get(proxy_client, gateway, "/sse")  # headers received, body not read yet
    busy, idle = (first, second) if first.seen else (second, first)
    for _ in range(4):
        assert read(get(proxy_client, gateway)) == 200
    assert [r.path for r in idle.seen] == ["/x"] * 4  # the open stream still counts
    stream.close()  # the client is done (or gone): the stream no longer counts
    for _ in range(4):
        read(get(proxy_client, gateway))
    assert (len(busy.seen), len(idle.seen)) == (3, 6)


def test_refused_connection_is_a_502(route, proxy_client):
    gateway = route(targets=[("127.0.0.1", free_port())])
    response = get(proxy_client, gateway)
    assert response.status_code == 502
    assert json.loads(response.content) == {"error": "upstream unreachable"}


def test_failure_logs_keep_injected_credentials_out(route, proxy_client, caplog):
    credentials = {"param_name": "api_key", "param_value": "query-secret-123"}
    gateway = route(
        targets=[("127.0.0.1", free_port())], upstream_extra={"credentials": credentials}
    )
    with caplog.at_level("WARNING", logger="proxy.upstream"):
        assert get(proxy_client, gateway, "/x?q=1").status_code == 502
    assert "unreachable" in caplog.text
    assert "ConnectionRefused" in caplog.text or "NewConnectionError" in caplog.text
    assert "query-secret-123" not in caplog.text


def test_read_timeout_is_a_504(route, proxy_client):
    gateway = route(service_extra={"read_timeout": 0.2})
    response = get(proxy_client, gateway, "/slow?seconds=1")
    assert response.status_code == 504
    assert json.loads(response.content) == {"error": "upstream timed out"}


def test_connection_errors_retry_on_another_target(route, upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", free_port()), ("127.0.0.1", upstream.port)], retry_attempts=1
    )
    statuses = Counter(get(proxy_client, gateway, method="post").status_code for _ in range(6))
    assert statuses == Counter({200: 6})


def test_dead_target_is_skipped_after_the_threshold(route, upstream, proxy_client):
    dead = free_port()
    gateway = route(
        targets=[("127.0.0.1", dead), ("127.0.0.1", upstream.port)],
        health_checks={"passive": True, "threshold": 2, "interval": 60},
    )
    statuses = [get(proxy_client, gateway).status_code for _ in range(10)]
    assert statuses.count(502) == 2  # the dead target fails twice, then it cools down
    assert statuses[-6:] == [200] * 6
    assert len(upstream.seen) == 8


def test_a_retried_request_is_built_afresh_for_the_next_target(route, upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", free_port()), ("127.0.0.1", upstream.port)],
        retry_attempts=1,
        upstream_extra={"credentials": {"header_name": "X-Upstream-Auth", "header_value": "s"}},
    )
    for _ in range(2):  # round robin: one of the two starts with the dead target
        assert get(proxy_client, gateway, method="post").status_code == 200
    assert len(upstream.seen) == 2
    for seen in upstream.seen:
        assert seen.headers["X-Forwarded-For"] == "127.0.0.1"
        assert seen.headers["X-Upstream-Auth"] == "s"
