"""The rate limiters on a real 3-master Redis Cluster (REDIS_URL=redis+cluster://...): every
key of a decision shares a hash tag, so the Lua scripts run and stay exact."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis.cluster import RedisCluster

from gateway_project.redis_cluster import node_url
from gateway_project.settings.base import cache_settings
from plugins.base import Plugin
from plugins.sdk.context import LLMCall, PluginRejection
from tests.builders import provider_target
from tests.openai_upstream import OpenAIServer
from tests.plugins.helpers import make_plugin, make_request
from tests.redis_cluster import RedisClusterNodes, cluster_binaries
from tests.upstream import free_port

HOST = "api.localhost"
LLM = LLMCall("openai", "m")  # requests routed to a provider target (token limits apply)


@pytest.fixture(scope="module")
def redis_cluster():
    binaries = cluster_binaries()
    if binaries is None:
        pytest.skip("redis-server/redis-cli cannot run here")
    nodes = RedisClusterNodes(*binaries).start()
    yield nodes
    nodes.stop()


@pytest.fixture
def cluster(redis_cluster, settings) -> RedisCluster:
    """The gateway's Redis is the cluster; returns a client of our own to look inside it."""
    settings.CACHES = cache_settings(redis_cluster.url)
    client = RedisCluster.from_url(node_url(redis_cluster.url), decode_responses=True)
    yield client
    client.close()


def cluster_keys(client: RedisCluster) -> list[str]:
    return list(client.scan_iter(count=1000, target_nodes=RedisCluster.PRIMARIES))


def admitted_concurrently(plugin: Plugin, attempts: int, **request: object) -> int:
    barrier = threading.Barrier(min(attempts, 50))

    def attempt(index: int) -> bool:
        context = make_request(**request)
        if index < 50:
            barrier.wait()
        try:
            plugin.pre_request(context)
        except PluginRejection:
            return False
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        return sum(pool.map(attempt, range(attempts)))


def test_exact_request_limit_through_the_proxy(cluster, route, proxy_client):
    limiter = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_key": {"limit": 5, "window": "1m"}}},
    }
    gateway = route(required_plugins=[limiter])
    statuses = [
        proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key).status_code
        for _ in range(8)
    ]
    assert statuses == [200] * 5 + [429] * 3
    keys = cluster_keys(cluster)
    assert any(key.startswith("{rl:") for key in keys), keys
    published = [key for key in keys if key.startswith("gw:{config}:")]
    assert published, keys  # admin writes published on the cluster
    assert int(cluster.hget(published[0], "counter")) >= 1


@pytest.mark.parametrize("limit", [20, 1200], ids=["request-log", "buckets"])
def test_concurrent_request_decisions_admit_exactly_the_limit(cluster, limit):
    plugin = make_plugin("rate_limiter", {"limits": {"global": {"limit": limit, "window": "1m"}}})
    assert admitted_concurrently(plugin, limit + 40) == limit


def test_token_limit_through_the_proxy(cluster, route, upstream, proxy_client):
    limiter = {
        "name": "token_rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limit": 100, "window": "1m"},
    }
    gateway = route(targets=[provider_target(upstream.port)], required_plugins=[limiter])
    body = json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": ""}], "max_tokens": 40}
    )
    responses = [
        proxy_client.post(
            "/v1/chat/completions",
            data=body,
            content_type="application/json",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
        )
        for _ in range(3)
    ]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[1]["x-ratelimit-remaining-tokens"] == "20"
    assert any(key.startswith("{trl:") for key in cluster_keys(cluster))


def test_concurrent_token_reservations_admit_exactly_what_fits(cluster):
    plugin = make_plugin("token_rate_limiter", {"limit": 1000, "window": "1m"})
    body = json.dumps({"model": "m", "messages": [], "max_tokens": 100}).encode()
    assert admitted_concurrently(plugin, 50, body=body, api_key_id="key-1", llm=LLM) == 10


@pytest.mark.parametrize("name", ["rate_limiter", "token_rate_limiter"])
def test_unreachable_cluster_fails_open_or_closed_as_configured(settings, name):
    settings.CACHES = cache_settings(f"redis+cluster://127.0.0.1:{free_port()}/0")
    plugin_settings = (
        {"limits": {"global": {"limit": 1, "window": "1m"}}}
        if name == "rate_limiter"
        else {"limit": 1000}
    )
    request = make_request(body=b"{}", llm=LLM)
    make_plugin(name, plugin_settings).pre_request(request)  # fail open: let through
    assert request.response_headers == {}
    closed = make_plugin(name, {**plugin_settings, "fail_open": False})
    with pytest.raises(PluginRejection) as caught:
        closed.pre_request(make_request(llm=LLM))
    assert caught.value.status == 503


def test_target_health_lives_on_the_cluster(cluster, route, upstreams, proxy_client):
    failing, backup = (upstreams.start(server_class=OpenAIServer) for _ in range(2))
    failing.behaviour.status = 500
    gateway = route(
        path="/v1/*",
        targets=[failing.target("m"), backup.target("m", priority=1)],
        health_checks={"passive": True, "threshold": 1, "interval": 60},
    )
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    for _ in range(3):
        response = proxy_client.post(
            "/v1/chat/completions",
            data=body,
            content_type="application/json",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
        )
        assert response.status_code == 200
    assert (len(failing.seen), len(backup.seen)) == (1, 3)  # cooled down after one failure
    assert any(key.startswith("{lbh:") for key in cluster_keys(cluster))
