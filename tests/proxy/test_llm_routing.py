"""LLM provider routing against real mock providers and Redis: priorities, weights, fallback,
shared passive health, the answering provider's headers, usage and cost on the request."""

from __future__ import annotations

import json

import pytest

from gateway_project.conf import DEFAULTS
from plugins.registry import registry
from plugins.sdk.context import LLMCall
from proxy import health, health_news
from tests.e2e.services import wait_until
from tests.openai_upstream import COMPLETION_TOKENS, PROMPT_TOKENS, OpenAIServer
from tests.plugins.sample_plugins import LLM_CALLS, SAMPLE_PLUGINS
from tests.upstream import free_port

HOST = "api.localhost"
PRICING = {"input_per_million": 2.5, "output_per_million": 10}
COST = (PROMPT_TOKENS * 2.5 + COMPLETION_TOKENS * 10) / 1_000_000


@pytest.fixture
def providers(upstreams):
    """`providers(n)`: n running mock OpenAI-compatible providers."""
    return lambda count: [upstreams.start(server_class=OpenAIServer) for _ in range(count)]


@pytest.fixture
def llm_route(route):
    """A gateway whose `/v1/*` rule routes to the given provider targets."""
    return lambda targets, **options: route(path="/v1/*", targets=targets, **options)


@pytest.fixture
def recorder(settings):
    """The llm_recorder sample plugin registered, as a gateway's required plugin."""
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], *SAMPLE_PLUGINS]}
    registry.load()
    yield [{"name": "llm_recorder", "stage": "post_response", "priority": 1, "settings": {}}]
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


def chat(client, gateway, model: str = "gpt-a", stream: bool = False):
    body: dict = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
    )


def body_of(response) -> bytes:
    """The whole answer, read once as a client reads it."""
    if not hasattr(response, "read_body"):
        streamed = response.streaming
        response.read_body = b"".join(response.streaming_content) if streamed else response.content
    return response.read_body


def answered(response) -> tuple[int, str, str]:
    body_of(response)
    return (
        response.status_code,
        response.headers.get("X-Gateway-Provider"),
        response.headers.get("X-Gateway-Model"),
    )


def test_the_lowest_priority_takes_all_traffic_while_healthy(llm_route, providers, proxy_client):
    first, second = providers(2)
    gateway = llm_route([second.target("gpt-b", priority=1), first.target("gpt-a")])
    for _ in range(6):
        assert answered(chat(proxy_client, gateway)) == (200, "openai", "gpt-a")
    assert (len(first.seen), len(second.seen)) == (6, 0)


def test_weights_apply_within_the_best_priority(llm_route, providers, proxy_client):
    heavy, light, backup = providers(3)
    targets = [
        heavy.target("gpt-a", weight=3),
        light.target("gpt-a", weight=1),
        backup.target("gpt-a", weight=10, priority=5),
    ]
    gateway = llm_route(targets, algorithm="weighted-round-robin")
    for _ in range(40):
        assert answered(chat(proxy_client, gateway))[0] == 200
    assert (len(heavy.seen), len(light.seen), len(backup.seen)) == (30, 10, 0)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_failing_status_falls_back_to_the_next_priority(
    llm_route, providers, proxy_client, status
):
    failing, backup = providers(2)
    failing.behaviour.status = status
    gateway = llm_route([failing.target("gpt-a"), backup.target("gpt-b", "mistral", priority=1)])
    response = chat(proxy_client, gateway)
    assert answered(response) == (200, "mistral", "gpt-b")
    assert json.loads(body_of(response))["model"] == "gpt-b"  # re-built for the new target
    assert json.loads(backup.seen[0].body)["model"] == "gpt-b"
    assert (len(failing.seen), len(backup.seen)) == (1, 1)


def test_a_refused_connection_falls_back(llm_route, providers, proxy_client):
    (backup,) = providers(1)
    dead = {**backup.target("gpt-a"), "base_url": f"http://127.0.0.1:{free_port()}"}
    gateway = llm_route([dead, backup.target("gpt-b", priority=1)])
    assert answered(chat(proxy_client, gateway)) == (200, "openai", "gpt-b")


def test_a_timeout_falls_back_even_for_a_post(llm_route, providers, proxy_client):
    slow, backup = providers(2)
    slow.behaviour.delay = 1.0
    gateway = llm_route(
        [slow.target("gpt-a"), backup.target("gpt-b", priority=1)],
        service_extra={"read_timeout": 0.3},
    )
    assert answered(chat(proxy_client, gateway)) == (200, "openai", "gpt-b")


def test_when_every_target_fails_the_last_answer_is_returned(llm_route, providers, proxy_client):
    first, last = providers(2)
    first.behaviour.status, last.behaviour.status = 503, 429
    gateway = llm_route([first.target("gpt-a"), last.target("gpt-b", "mistral", priority=1)])
    response = chat(proxy_client, gateway)
    assert answered(response) == (429, "mistral", "gpt-b")
    assert json.loads(body_of(response))["error"]["type"] == "rate_limit_exceeded"


def test_every_target_is_tried_at_most_once(llm_route, providers, proxy_client):
    servers = providers(3)
    for server in servers:
        server.behaviour.status = 500
    gateway = llm_route([s.target("gpt-a", priority=i) for i, s in enumerate(servers)])
    assert answered(chat(proxy_client, gateway))[0] == 500
    assert [len(s.seen) for s in servers] == [1, 1, 1]


def test_no_fallback_once_the_stream_has_started(llm_route, providers, proxy_client):
    cut, backup = providers(2)
    cut.behaviour.break_stream = True
    gateway = llm_route([cut.target("gpt-a"), backup.target("gpt-b", priority=1)])
    response = chat(proxy_client, gateway, stream=True)
    body = body_of(response)
    assert response.status_code == 200
    assert b'"content": "Hello"' in body
    assert b"[DONE]" not in body
    assert backup.seen == []


def test_host_targets_do_not_fall_back_on_a_status(route, upstreams, proxy_client):
    servers = [upstreams.start() for _ in range(2)]
    gateway = route(targets=[("127.0.0.1", s.port) for s in servers], retry_attempts=1)
    response = proxy_client.post("/status/500", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 500
    assert "X-Gateway-Provider" not in response.headers
    assert sum(len(s.seen) for s in servers) == 1


@pytest.mark.parametrize("shape", ["json", "chunked_json", "stream"])
def test_usage_and_cost_are_on_the_request(llm_route, providers, proxy_client, recorder, shape):
    (server,) = providers(1)
    server.behaviour.chunked_json = shape == "chunked_json"
    gateway = llm_route([server.target("gpt-a", pricing=PRICING)], required_plugins=recorder)
    response = chat(proxy_client, gateway, stream=shape == "stream")
    assert answered(response) == (200, "openai", "gpt-a")
    total = PROMPT_TOKENS + COMPLETION_TOKENS
    expected = LLMCall("openai", "gpt-a", PROMPT_TOKENS, COMPLETION_TOKENS, total, COST)
    expected.finish_reasons = ("stop",)
    assert LLM_CALLS[response["X-Request-ID"]] == expected


def test_the_llm_call_names_the_target_that_answered(llm_route, providers, proxy_client, recorder):
    failing, backup = providers(2)
    failing.behaviour.status = 500
    targets = [failing.target("gpt-a"), backup.target("gpt-b", "mistral", priority=1)]
    gateway = llm_route(targets, required_plugins=recorder)
    response = chat(proxy_client, gateway)
    assert answered(response) == (200, "mistral", "gpt-b")
    call = LLM_CALLS[response["X-Request-ID"]]
    assert (call.provider, call.model, call.total_tokens) == ("mistral", "gpt-b", 21)
    assert call.cost is None  # no pricing on that target


def test_a_failing_target_cools_down_in_redis_then_returns(
    llm_route, providers, proxy_client, redis_conn
):
    failing, backup = providers(2)
    failing.behaviour.status = 500
    gateway = llm_route(
        [failing.target("gpt-a"), backup.target("gpt-b", priority=1)],
        health_checks={"passive": True, "threshold": 2, "interval": 1},
    )
    for _ in range(6):
        assert answered(chat(proxy_client, gateway))[2] == "gpt-b"
    assert len(failing.seen) == 2  # two failures, then it cools down: skipped
    assert redis_conn.keys(f"{{lbh:{gateway.upstream['id']}:*}}:down:0")
    failing.behaviour.status = 200
    wait_until(lambda: answered(chat(proxy_client, gateway))[2] == "gpt-a", timeout=5)


def _redis_calls(redis_conn, command: str) -> int:
    return redis_conn.info("commandstats").get(f"cmdstat_{command}", {}).get("calls", 0)


@pytest.mark.parametrize(
    ("count", "health_checks", "reads"),
    [(1, {"passive": True}, 1), (2, {"passive": False}, 1), (2, {"passive": True}, 1)],
    ids=["one-target", "passive-off", "two-targets"],  # rests (Retry-After) are read anyway
)
def test_health_is_read_at_most_once_per_cache_window(
    llm_route, providers, proxy_client, redis_conn, monkeypatch, count, health_checks, reads
):
    monkeypatch.setattr(health, "CACHE_SECONDS", 60.0)
    health_news.listen()  # subscribed first: a single target's rests are then read only once
    wait_until(lambda: health_news.News.subscriptions > 0, timeout=5, interval=0.01)
    gateway = llm_route([s.target("gpt-a") for s in providers(count)], health_checks=health_checks)
    before = _redis_calls(redis_conn, "mget")
    for _ in range(10):
        assert answered(chat(proxy_client, gateway))[0] == 200
    assert _redis_calls(redis_conn, "mget") - before == reads


@pytest.mark.usefixtures("redis_down")
def test_with_redis_down_requests_still_route_and_fall_back(llm_route, providers, proxy_client):
    failing, backup = providers(2)
    failing.behaviour.status = 500
    gateway = llm_route(
        [failing.target("gpt-a"), backup.target("gpt-b", priority=1)],
        health_checks={"passive": True, "threshold": 1, "interval": 60},
    )
    for _ in range(3):
        assert answered(chat(proxy_client, gateway)) == (200, "openai", "gpt-b")
    assert len(failing.seen) == 3  # no shared health: tried first each time, as if healthy


TOKEN_LIMITER = {
    "name": "token_rate_limiter",
    "stage": "pre_request",
    "priority": 1,
    "settings": {"limit": 10_000, "window": "1m"},
}


def test_token_limits_apply_to_provider_routes_with_the_metered_usage(
    llm_route, providers, proxy_client
):
    (server,) = providers(1)
    gateway = llm_route([server.target("gpt-a")], required_plugins=[TOKEN_LIMITER])
    first = chat(proxy_client, gateway)
    body_of(first)
    estimate = 10_000 - int(first["x-ratelimit-remaining-tokens"])
    second = chat(proxy_client, gateway)
    used = PROMPT_TOKENS + COMPLETION_TOKENS  # the first reservation reconciled to its usage
    assert int(second["x-ratelimit-remaining-tokens"]) == 10_000 - used - estimate


def test_token_limits_leave_other_routes_untouched(route, proxy_client, redis_conn):
    gateway = route(required_plugins=[TOKEN_LIMITER])
    budgets = set(redis_conn.keys("{trl:*"))
    response = proxy_client.post(
        "/x", b"{}", content_type="application/json", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )
    assert response.status_code == 200
    assert "x-ratelimit-remaining-tokens" not in response.headers
    # None made for this route (earlier tests' budgets may expire meanwhile: their 1m window)
    assert set(redis_conn.keys("{trl:*")) - budgets == set()
