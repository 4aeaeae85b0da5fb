"""token_rate_limiter against a real Redis: estimates, reservations, reconciliation, SSE usage."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.base import Plugin
from plugins.builtin.token_rate_limiter import estimate_tokens
from plugins.sdk.context import LLMCall, PluginRejection, RequestContext, ResponseContext
from proxy.llm.usage import UsageScanner, merge_usage, parse_json, settle_usage, total_tokens
from tests.plugins.helpers import make_plugin, make_request, settings_errors

KEY = "key-1"


def chat(max_tokens: int | None = None, content: str = "", **extra: object) -> bytes:
    body: dict[str, object] = {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": content}],
    }
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return json.dumps({**body, **extra}).encode()


def limiter(limit: int = 1000, window: str = "1m", **settings: object) -> Plugin:
    return make_plugin("token_rate_limiter", {"limit": limit, "window": window, **settings})


def llm_request(body: bytes, api_key_id: str | None = KEY, **headers: str) -> RequestContext:
    """A request routed to a provider target, as the proxy hands it to plugins."""
    llm = LLMCall("openai", "gpt-4o")
    return make_request(body=body, api_key_id=api_key_id, headers=headers, llm=llm)


def reserve(plugin: Plugin, tokens: int, api_key_id: str = KEY, **headers: str) -> RequestContext:
    """A request estimated at exactly `tokens` (max_tokens, empty prompt), after pre_request."""
    request = llm_request(chat(tokens), api_key_id, **headers)
    plugin.pre_request(request)
    return request


def remaining(plugin: Plugin, api_key_id: str = KEY, **headers: str) -> int:
    """Tokens left, from the headers of a probe over the limit (refused, reserves nothing)."""
    request = llm_request(chat(plugin.limit + 1), api_key_id, **headers)
    with pytest.raises(PluginRejection):
        plugin.pre_request(request)
    return int(request.response_headers["x-ratelimit-remaining-tokens"])


def json_response(body: bytes, status: int = 200, request: RequestContext | None = None):
    """A JSON answer, metered the way the proxy meters it when `request` is given (usage on
    `request.llm`)."""
    if request is not None and request.llm is not None:  # the proxy meters LLM calls only
        usage: dict[str, int] = {}
        merge_usage(usage, parse_json(body))
        settle_usage(request.llm, usage, None)
    headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    return ResponseContext(status=status, headers=headers, body=body)


def streamed(request: RequestContext, chunks: list[bytes]) -> ResponseContext:
    """Meter a streamed body the way the proxy does (usage on `request.llm` at its end)."""
    scanner = UsageScanner()
    for chunk in chunks:
        scanner.feed(chunk)
    scanner.finish()
    settle_usage(request.llm, scanner.usage, None)
    headers = CaseInsensitiveDict({"Content-Type": "text/event-stream"})
    return ResponseContext(status=200, headers=headers, body=None, streamed=True)


def usage_body(total: int) -> bytes:
    usage = {"prompt_tokens": 10, "completion_tokens": total - 10, "total_tokens": total}
    return json.dumps({"id": "c1", "choices": [], "usage": usage}).encode()


OPENAI_SSE = (
    'data: {"id":"c1","choices":[{"delta":{"content":"h\u00e9llo"}}],"usage":null}\n\n'
    'data: {"id":"c1","choices":[{"delta":{"content":" w\u00f6rld \U0001f642"}}],"usage":null}\n\n'
    'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":30,'
    '"total_tokens":42}}\n\n'
    "data: [DONE]\n\n"
).encode()

ANTHROPIC_SSE = (
    b"event: message_start\r\n"
    b'data: {"type":"message_start","message":{"id":"m1","usage":{"input_tokens":10,'
    b'"output_tokens":1}}}\r\n\r\n'
    b"event: content_block_delta\r\n"
    b'data: {"type":"content_block_delta","delta":{"type":"text_delta","text":"Hi"}}\r\n\r\n'
    b"event: message_delta\r\n"
    b'data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":25}}'
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "settings",
    [
        {"limit": 10000, "window": "1m", "identifier": "key", "default_max_tokens": 1024},
        {"limit": 1, "window": "1h30m", "identifier": "user", "fail_open": False},
        {"limit": 500},
    ],
)
def test_valid_settings_are_accepted(create_gateway_with, settings):
    response = create_gateway_with("token_rate_limiter", settings)
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"window": "1m"}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"limit": 10, "window": "1 minute"}, "window"),
        ({"limit": 10, "window": "0s"}, "window"),
        ({"limit": 10, "identifier": "ip"}, "identifier"),
        ({"limit": 10, "default_max_tokens": 0}, "default_max_tokens"),
        ({"limit": 10, "tokens_per_minute": 5}, "tokens_per_minute"),
    ],
)
def test_invalid_settings_are_a_400_naming_the_field(create_gateway_with, settings, field):
    assert field in settings_errors(create_gateway_with("token_rate_limiter", settings))


@pytest.mark.django_db
def test_configured_stage_may_be_post_response_but_not_pre_response(create_gateway_with):
    assert (
        create_gateway_with("token_rate_limiter", {"limit": 5}, "post_response").status_code == 201
    )
    response = create_gateway_with("token_rate_limiter", {"limit": 5}, "pre_response")
    assert response.status_code == 400
    assert "stage" in response.json()["fields"]["required_plugins"]["0"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (chat(100, "x" * 40), 110),
        (chat(content="x" * 41), 1024 + 11),
        (chat(max_completion_tokens=7, content="abcd"), 8),
        (chat(0, "abcd"), 1025),
        (
            json.dumps({"messages": [{"content": [{"type": "text", "text": "x" * 8}]}]}).encode(),
            1026,
        ),
        (json.dumps({"prompt": "x" * 12, "max_tokens": 3}).encode(), 6),
        (json.dumps({"model": "m", "max_tokens": 3}).encode(), 3 + 8),
        (json.dumps({"model": "m", "input": "x" * 8, "max_output_tokens": 5}).encode(), 5 + 2),
        (b"not json at all", 1024 + 4),
        (b"", 1024),
    ],
)
def test_estimate_is_max_tokens_plus_a_quarter_of_the_prompt(body, expected):
    assert estimate_tokens(make_request(body=body), 1024) == expected


# Prompts of 8, 12 or 16 characters in each request shape: 2, 3 or 4 tokens on top of max_tokens.
PROMPT_SHAPES = {
    "openai chat, system and user": {
        "messages": [
            {"role": "system", "content": "x" * 4},
            {"role": "user", "content": [{"type": "text", "text": "x" * 4}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u" * 99}}]},
        ]
    },
    "anthropic messages and system": {
        "system": [{"type": "text", "text": "x" * 4}],
        "messages": [
            {"role": "user", "content": "x" * 4},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t" * 40, "content": "x" * 4}],
            },
        ],
    },
    "responses input and instructions": {
        "instructions": "x" * 4,
        "input": ["x" * 4, {"role": "user", "content": [{"type": "input_text", "text": "x" * 8}]}],
    },
}


@pytest.mark.parametrize(
    ("shape", "prompt_tokens"),
    [
        ("openai chat, system and user", 2),
        ("anthropic messages and system", 3),
        ("responses input and instructions", 4),
    ],
)
def test_estimate_counts_the_texts_of_each_request_shape(shape, prompt_tokens):
    """Only the texts count: not the image URL, the tool id or the JSON around them."""
    body = json.dumps({"model": "m", "max_tokens": 10, **PROMPT_SHAPES[shape]}).encode()
    assert estimate_tokens(make_request(body=body), 1024) == 10 + prompt_tokens


def test_reservation_sets_openai_style_headers(redis_conn):
    request = reserve(limiter(1000, "1m"), 300)
    assert request.response_headers == {
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "700",
        "x-ratelimit-reset-tokens": "60s",
    }


def test_rejected_request_is_a_429_and_reserves_nothing(redis_conn):
    plugin = limiter(1000, "1m")
    first = reserve(plugin, 600)
    with pytest.raises(PluginRejection) as caught:
        reserve(plugin, 600)
    rejection = caught.value
    assert (rejection.status, rejection.message) == (429, "token rate limit exceeded")
    assert rejection.retry_after in (59, 60)
    assert rejection.headers == {"Retry-After": str(rejection.retry_after)}
    keys = [key.decode() for key in redis_conn.keys(f"{{trl:{plugin.instance_id}:*")]
    log = next(key for key in keys if key.endswith(":log"))
    assert redis_conn.zcard(log) == 1
    assert reserve(plugin, 400).response_headers["x-ratelimit-remaining-tokens"] == "0"
    assert first.metadata[plugin.instance_id].tokens == 600


def test_rejection_headers_show_the_budget_left():
    plugin = limiter(100, "1m")
    reserve(plugin, 70)
    request = llm_request(chat(50))
    with pytest.raises(PluginRejection):
        plugin.pre_request(request)
    assert request.response_headers["x-ratelimit-remaining-tokens"] == "30"


def test_request_larger_than_the_limit_is_refused_without_retry_after():
    with pytest.raises(PluginRejection) as caught:
        reserve(limiter(100), 101)
    assert caught.value.status == 429
    assert caught.value.retry_after is None
    assert "Retry-After" not in caught.value.headers
    assert "needs 101 tokens" in caught.value.message


def test_json_usage_replaces_the_reservation():
    plugin = limiter(1000)
    request = reserve(plugin, 500)
    plugin.post_response(request, json_response(usage_body(120), request=request))
    assert remaining(plugin) == 880


def test_usage_above_the_estimate_is_charged_in_full():
    plugin = limiter(1000)
    request = reserve(plugin, 100)
    plugin.post_response(request, json_response(usage_body(900), request=request))
    assert remaining(plugin) == 100


def test_answer_without_usage_keeps_the_estimate():
    plugin = limiter(1000)
    request = reserve(plugin, 300)
    plugin.post_response(request, json_response(b'{"object": "list", "data": []}', request=request))
    assert remaining(plugin) == 700


def test_error_answer_without_usage_releases_the_reservation():
    plugin = limiter(1000)
    request = reserve(plugin, 300)
    plugin.post_response(request, json_response(b'{"error": {"message": "bad"}}', status=429))
    assert remaining(plugin) == 1000


def test_streamed_sse_usage_is_read_across_one_byte_chunks():
    plugin = limiter(1000)
    request = reserve(plugin, 500)
    chunks = [OPENAI_SSE[i : i + 1] for i in range(len(OPENAI_SSE))]
    plugin.post_response(request, streamed(request, chunks))
    assert remaining(plugin) == 1000 - 42


@pytest.mark.parametrize("stream", [OPENAI_SSE, ANTHROPIC_SSE], ids=["openai", "anthropic"])
def test_sse_usage_is_found_wherever_the_chunks_split(stream):
    expected = 42 if stream is OPENAI_SSE else 35
    for cut in range(1, len(stream)):
        for second_cut in (cut + 1, cut + 7, len(stream)):
            scanner = UsageScanner()
            for chunk in (stream[:cut], stream[cut:second_cut], stream[second_cut:]):
                scanner.feed(chunk)
            scanner.finish()
            assert total_tokens(scanner.usage) == expected, (cut, second_cut)


def test_sse_usage_after_an_overlong_line_is_still_found():
    long_line = b'data: {"choices":[{"delta":{"content":"' + b"x" * 300_000 + b'"}}]}\n\n'
    stream = b"\n" + long_line + OPENAI_SSE
    scanner = UsageScanner()
    for start in range(0, len(stream), 1000):
        scanner.feed(stream[start : start + 1000])
    scanner.finish()
    assert scanner.usage["total_tokens"] == 42
    assert len(scanner.pending) == 0


def test_chunked_json_answer_is_read_when_the_stream_ends():
    plugin = limiter(1000)
    request = reserve(plugin, 500)
    body = usage_body(77)
    plugin.post_response(request, streamed(request, [body[:20], body[20:]]))
    assert remaining(plugin) == 1000 - 77


def test_sse_without_usage_keeps_the_estimate():
    plugin = limiter(1000)
    request = reserve(plugin, 200)
    stream = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n'
    plugin.post_response(request, streamed(request, [stream]))
    assert remaining(plugin) == 800


def test_api_keys_have_separate_budgets():
    plugin = limiter(1000)
    reserve(plugin, 900, api_key_id="key-a")
    assert remaining(plugin, api_key_id="key-b") == 1000
    assert remaining(plugin, api_key_id="key-a") == 100


def test_user_identifier_counts_per_trusted_user_header_then_per_key():
    plugin = limiter(1000, identifier="user", user_header="X-User-ID")
    reserve(plugin, 900, **{"X-User-ID": "alice"})
    assert remaining(plugin, **{"X-User-ID": "alice"}) == 100
    assert remaining(plugin, **{"X-User-ID": "bob"}) == 1000
    assert remaining(plugin) == 1000  # no header: the API key's own budget


def test_user_identifier_without_user_header_ignores_client_user_headers():
    plugin = limiter(1000, identifier="user")
    reserve(plugin, 900, **{"X-User-ID": "alice"})
    assert remaining(plugin, **{"X-User-ID": "bob"}) == 100  # same key: same budget


def test_plugin_instances_do_not_share_budgets():
    reserve(limiter(1000), 900)
    assert remaining(limiter(1000)) == 1000


def test_budget_returns_when_the_window_slides():
    plugin = limiter(1000, "300ms")
    reserve(plugin, 1000)
    with pytest.raises(PluginRejection) as caught:
        reserve(plugin, 1)
    assert caught.value.retry_after == 1
    time.sleep(0.35)
    assert remaining(plugin) == 1000


def test_concurrent_reservations_admit_exactly_what_fits():
    plugin = limiter(1000, "1m")
    barrier = threading.Barrier(50)

    def attempt(_: int) -> bool:
        request = llm_request(chat(100))
        barrier.wait()
        try:
            plugin.pre_request(request)
        except PluginRejection:
            return False
        return True

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(attempt, range(50)))
    assert results.count(True) == 10
    assert remaining(plugin) == 0


@pytest.mark.usefixtures("redis_down")
def test_redis_down_fails_open_by_default():
    plugin = limiter(10)
    request = reserve(plugin, 5)
    assert request.response_headers == {}
    plugin.post_response(
        request, json_response(usage_body(50), request=request)
    )  # nothing reserved: no-op


@pytest.mark.usefixtures("redis_down")
def test_redis_down_is_a_503_when_fail_open_is_false():
    with pytest.raises(PluginRejection) as caught:
        reserve(limiter(10, fail_open=False), 5)
    assert (caught.value.status, caught.value.message) == (503, "token rate limiter unavailable")


def test_requests_not_routed_to_a_provider_are_not_counted(redis_conn):
    plugin = limiter(10)
    request = make_request(body=chat(5000), api_key_id=KEY)  # no request.llm: not LLM traffic
    plugin.pre_request(request)
    plugin.post_response(request, json_response(usage_body(5000), request=request))
    assert request.response_headers == {}
    assert redis_conn.keys(f"{{trl:{plugin.instance_id}:*") == []


TRUSTGATE_MINUTE = {"identifier_header": "X-User-ID", "window": {"unit": "minute", "max": 1000}}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "stored"),
    [
        (
            TRUSTGATE_MINUTE,
            {"limit": 1000, "window": "1m", "identifier": "user", "user_header": "X-User-ID"},
        ),
        ({"window": {"unit": "hour", "max": 5}}, {"limit": 5, "window": "1h", "identifier": "key"}),
        (
            {"window": {"unit": "day", "max": 7}, "default_max_tokens": 10},
            {"limit": 7, "window": "1d", "identifier": "key", "default_max_tokens": 10},
        ),
    ],
)
def test_trustgate_e2_settings_are_stored_as_the_native_shape(
    create_gateway_with, settings, stored
):
    response = create_gateway_with("token_rate_limiter", settings)
    assert response.status_code == 201, response.json()
    assert response.json()["required_plugins"][0]["settings"] == {
        "default_max_tokens": 1024,
        **stored,
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"window": {"unit": "week", "max": 10}}, "window"),
        ({"window": {"unit": "minute"}}, "window"),
        ({"window": {"unit": "minute", "max": 0}}, "window"),
        ({"window": {"unit": "minute", "max": 10, "burst": 5}}, "window"),
        (
            {"identifier_header": "X User", "window": {"unit": "minute", "max": 10}},
            "identifier_header",
        ),
        ({"identifier_header": "X-User-ID"}, "window"),
        ({"limit": 10, "window": {"unit": "minute", "max": 10}}, "limit"),
        ({**TRUSTGATE_MINUTE, "user_header": "X-Other"}, "user_header"),
    ],
)
def test_bad_trustgate_e2_settings_are_a_400_naming_the_field(create_gateway_with, settings, field):
    assert field in settings_errors(create_gateway_with("token_rate_limiter", settings))


def test_trustgate_e2_identifier_header_names_whose_budget_it_is():
    plugin = make_plugin("token_rate_limiter", TRUSTGATE_MINUTE)
    reserve(plugin, 900, **{"X-User-ID": "alice"})
    assert remaining(plugin, **{"X-User-ID": "alice"}) == 100
    assert remaining(plugin, **{"X-User-ID": "bob"}) == 1000
