"""response_cache through the proxy in process, against a real Redis and a mock provider: exact
hits, streams replayed from JSON and back, scopes, Cache-Control, broken streams, response
plugins on hits, token limits, semantic matches, purges, settings."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.builders import created, in_process_post, routed_gateway
from tests.cache_upstream import USAGE, CacheMockServer
from tests.observability.conftest import lines, sample

MODEL, EMBEDDINGS = "gpt-4o-mini", "embed-small"
PRICING = {"input_per_million": 1000, "output_per_million": 2000}
SECRET = "a-secret-of-sixteen-or-more"
QUESTION = "What is the capital of France?"
PARAPHRASE = "Tell me the capital city of France"
OTHER = "What is the capital of Spain?"


@pytest.fixture(scope="module")
def mock():
    server = CacheMockServer().start()
    server.vectors = {QUESTION: [1.0, 0.0, 0.0], PARAPHRASE: [0.99, 0.1, 0.0], OTHER: [0.8, 0.6, 0]}
    yield server
    server.stop()


def cache(stage: str = "pre_request", **settings) -> dict:
    return {"name": "response_cache", "stage": stage, "priority": 50, "settings": settings}


@pytest.fixture
def gateway(transactional_db, api, mock):
    """`gateway(subdomain, *other plugins, **cache settings)`: a rule `/v1/*` to the mock, its
    chain the plugins then response_cache."""
    mock.seen.clear()
    mock.behaviour.break_stream = False

    def build(subdomain: str = "cache", *plugins: dict, **settings):
        target = mock.target(MODEL, pricing=PRICING)
        target["models"] = [MODEL, EMBEDDINGS]
        return routed_gateway(
            in_process_post(api),
            subdomain=subdomain,
            target_dicts=[target],
            path="/v1/*",
            plugin_chain=[*plugins, cache(**settings)],
        )

    return build


def chat(client, gateway, content=QUESTION, *, key=None, host="cache", headers=None, **extra):
    """A chat request; a streamed answer is read whole (the response closed, as a server does)."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}
    response = client.post(
        "/v1/chat/completions",
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=f"{host}.localhost",
        HTTP_AUTHORIZATION=f"Bearer {key or gateway.key}",
        **{f"HTTP_{name.upper().replace('-', '_')}": v for name, v in (headers or {}).items()},
    )
    response.data = response.content if not response.streaming else b"".join(response)
    response.close()
    return response


def text_of(response) -> str:
    """The answer's text, from a JSON completion or from its chunks."""
    if not response["Content-Type"].startswith("text/event-stream"):
        return completion(response)["choices"][0]["message"]["content"]
    return "".join(
        choice["delta"].get("content") or ""
        for event in events(response)
        for choice in event["choices"]
    )


def completion(response) -> dict:
    return json.loads(response.data)


def events(response) -> list[dict]:
    data = response.data.decode().split("\n\n")
    assert data[-2] == "data: [DONE]", data
    return [json.loads(event[6:]) for event in data[:-2]]


def test_a_second_identical_request_is_a_hit_and_the_provider_is_called_once(
    gateway, proxy_client, mock
):
    routed = gateway()
    first, second = chat(proxy_client, routed), chat(proxy_client, routed)
    assert first.status_code == second.status_code == 200
    assert (first["X-Gateway-Cache"], second["X-Gateway-Cache"]) == ("MISS", "HIT")
    assert int(second["Age"]) >= 0
    assert not first.has_header("Age")
    assert completion(second) == completion(first)
    assert text_of(second) == f"You said: {QUESTION}"
    assert mock.chats() == 1


def test_a_stream_is_replayed_from_a_json_answer_and_json_from_a_stream(
    gateway, proxy_client, mock
):
    routed = gateway()
    chat(proxy_client, routed)
    streamed = chat(proxy_client, routed, stream=True, stream_options={"include_usage": True})
    assert streamed["X-Gateway-Cache"] == "HIT"
    assert streamed["Content-Type"].startswith("text/event-stream")
    assert text_of(streamed) == f"You said: {QUESTION}"
    chunks = events(streamed)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == USAGE
    assert chunks[-1]["choices"] == []

    first = chat(proxy_client, routed, OTHER, stream=True)  # usage not asked: the meter's kept
    assert first["X-Gateway-Cache"] == "MISS"
    assert text_of(first) == f"You said: {OTHER}"
    whole = chat(proxy_client, routed, OTHER)
    assert whole["X-Gateway-Cache"] == "HIT"
    assert completion(whole)["object"] == "chat.completion"
    assert completion(whole)["usage"] == USAGE
    assert text_of(whole) == f"You said: {OTHER}"
    plain = chat(proxy_client, routed, OTHER, stream=True)
    assert plain["X-Gateway-Cache"] == "HIT"
    assert all(chunk["choices"] for chunk in events(plain))  # no usage chunk unasked
    assert mock.chats() == 2


def test_another_key_misses_unless_the_scope_is_shared(gateway, proxy_client, api, mock):
    routed = gateway()
    other_key = created(in_process_post(api), f"/api/v1/gateways/{routed.id}/keys", {"name": "b"})
    chat(proxy_client, routed)
    assert chat(proxy_client, routed, key=other_key["key"])["X-Gateway-Cache"] == "MISS"
    assert mock.chats() == 2

    shared = gateway("shared", scope="shared")
    shared_key = created(in_process_post(api), f"/api/v1/gateways/{shared.id}/keys", {"name": "b"})
    chat(proxy_client, shared, host="shared")
    hit = chat(proxy_client, shared, key=shared_key["key"], host="shared")
    assert hit["X-Gateway-Cache"] == "HIT"
    assert mock.chats() == 3


def test_no_entry_is_served_across_gateways(gateway, proxy_client, mock):
    one, two = gateway("one", scope="shared"), gateway("two", scope="shared")
    assert chat(proxy_client, one, host="one")["X-Gateway-Cache"] == "MISS"
    assert chat(proxy_client, two, host="two")["X-Gateway-Cache"] == "MISS"
    assert chat(proxy_client, one, host="one")["X-Gateway-Cache"] == "HIT"
    assert mock.chats() == 2


def test_no_store_skips_lookup_and_store_no_cache_skips_the_lookup(gateway, proxy_client, mock):
    routed = gateway()
    no_store = chat(proxy_client, routed, headers={"Cache-Control": "no-store"})
    assert no_store["X-Gateway-Cache"] == "BYPASS"
    assert chat(proxy_client, routed)["X-Gateway-Cache"] == "MISS"  # nothing was kept
    no_cache = chat(proxy_client, routed, headers={"Cache-Control": "max-age=0, No-Cache"})
    assert no_cache["X-Gateway-Cache"] == "BYPASS"
    assert mock.chats() == 3
    chat(proxy_client, routed, OTHER, headers={"Cache-Control": "no-cache"})  # kept
    assert chat(proxy_client, routed, OTHER)["X-Gateway-Cache"] == "HIT"
    assert mock.chats() == 4


def test_a_broken_stream_is_not_stored(gateway, proxy_client, mock):
    routed = gateway()
    mock.behaviour.break_stream = True
    broken = chat(proxy_client, routed, stream=True)
    assert b'"error"' in broken.data
    assert b"[DONE]" not in broken.data
    mock.behaviour.break_stream = False
    assert chat(proxy_client, routed, stream=True)["X-Gateway-Cache"] == "MISS"
    assert mock.chats() == 2


def test_temperature_zero_only_caches_deterministic_requests_only(gateway, proxy_client, mock):
    routed = gateway(temperature_zero_only=True)
    assert chat(proxy_client, routed, temperature=0.7)["X-Gateway-Cache"] == "BYPASS"
    assert chat(proxy_client, routed, temperature=0.7)["X-Gateway-Cache"] == "BYPASS"
    assert chat(proxy_client, routed, temperature=0)["X-Gateway-Cache"] == "MISS"
    assert chat(proxy_client, routed, temperature=0)["X-Gateway-Cache"] == "HIT"
    assert mock.chats() == 3


def test_reversible_masking_restores_this_requests_values_on_a_hit(gateway, proxy_client, mock):
    reversible = {"enabled": True, "secret": SECRET}
    masking = {"predefined_entities": [{"entity": "email"}], "reversible_hashing": reversible}
    routed = gateway(
        "masked",
        {"name": "data_masking", "stage": "pre_request", "priority": 1, "settings": masking},
        {"name": "data_masking", "stage": "post_response", "priority": 1, "settings": masking},
    )
    question = "Write to jane@example.com please"
    first = chat(proxy_client, routed, question, host="masked")
    second = chat(proxy_client, routed, question, host="masked", stream=True)
    assert second["X-Gateway-Cache"] == "HIT"
    assert first["X-Request-ID"] != second["X-Request-ID"]
    assert text_of(first) == text_of(second) == f"You said: {question}"
    upstream_text = json.loads(mock.seen[-1].body)["messages"][0]["content"]
    assert "jane@example.com" not in upstream_text  # the key and the kept answer are masked
    other = chat(proxy_client, routed, "Write to john@example.com please", host="masked")
    assert other["X-Gateway-Cache"] == "MISS"
    assert text_of(other) == "You said: Write to john@example.com please"
    assert mock.chats() == 2


def test_a_hit_is_not_charged_to_the_token_limit(gateway, proxy_client):
    limiter = {
        "name": "token_rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limit": 100_000},
    }
    routed = gateway("limited", limiter)
    remaining = [
        int(chat(proxy_client, routed, host="limited")["x-ratelimit-remaining-tokens"])
        for _ in range(3)
    ]
    # Each request reserves the same estimate: after the miss its usage stays charged, after
    # the first hit nothing more (a hit charged would lower the third by the answer's usage).
    assert remaining[0] > remaining[1] == remaining[2]


def test_a_hit_costs_nothing_and_logs_what_it_saved(gateway, proxy_client, settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    routed = gateway()
    hits = sample("gateway_cache_requests_total", gateway="cache", result="HIT")
    saved = sample("gateway_cache_saved_cost_total", gateway="cache")
    chat(proxy_client, routed)
    chat(proxy_client, routed)
    miss, hit = (entry["llm"] for entry in lines(path)[-2:])
    cost = (USAGE["prompt_tokens"] * 1000 + USAGE["completion_tokens"] * 2000) / 1e6
    assert (miss["cache"], miss["cost"], miss["saved_cost"]) == ("MISS", cost, None)
    assert (hit["cache"], hit["cost"], hit["saved_cost"]) == ("HIT", 0, cost)
    assert hit["total_tokens"] == USAGE["total_tokens"]
    assert sample("gateway_cache_requests_total", gateway="cache", result="HIT") == hits + 1
    assert sample("gateway_cache_saved_cost_total", gateway="cache") == pytest.approx(saved + cost)


def test_semantic_a_paraphrase_over_the_threshold_hits_one_under_it_misses(
    gateway, proxy_client, mock
):
    routed = gateway(mode="semantic", embedding_model=EMBEDDINGS, threshold=0.95)
    assert chat(proxy_client, routed)["X-Gateway-Cache"] == "MISS"
    paraphrase = chat(proxy_client, routed, PARAPHRASE)
    assert paraphrase["X-Gateway-Cache"] == "HIT"
    assert 0.95 <= float(paraphrase["X-Gateway-Cache-Similarity"]) < 1
    assert text_of(paraphrase) == f"You said: {QUESTION}"
    assert chat(proxy_client, routed, OTHER)["X-Gateway-Cache"] == "MISS"  # cosine 0.8
    assert chat(proxy_client, routed, temperature=1)["X-Gateway-Cache"] == "MISS"  # parameters
    assert mock.chats() == 3
    embedded = [json.loads(s.body) for s in mock.seen if s.path.endswith("/embeddings")]
    assert embedded[0] == {"model": EMBEDDINGS, "input": QUESTION}


def test_semantic_an_embedding_that_fails_is_a_miss(gateway, proxy_client, mock):
    routed = gateway(mode="semantic", embedding_model=EMBEDDINGS)
    failed = chat(proxy_client, routed, "no vector for this one")  # the mock answers 500
    assert (failed.status_code, failed["X-Gateway-Cache"]) == (200, "MISS")
    assert text_of(failed) == "You said: no vector for this one"
    assert chat(proxy_client, routed, "no vector for this one")["X-Gateway-Cache"] == "HIT"
    assert mock.embeddings() == 1  # the exact key first: the hit asked for no embedding


def test_delete_purges_a_gateways_cache_or_one_rules(gateway, proxy_client, api, mock):
    routed = gateway()
    chat(proxy_client, routed)
    base = f"/api/v1/gateways/{routed.id}/cache"
    assert api.delete(f"{base}?rule={uuid.uuid4()}").status_code == 400
    assert api.delete(f"{base}?rule=nonsense").json()["fields"]["rule"]
    assert api.delete(f"/api/v1/gateways/{uuid.uuid4()}/cache").status_code == 404
    purged = api.delete(f"{base}?rule={routed.rule['id']}")
    assert purged.status_code == 200
    assert purged.json()["deleted"] >= 1
    assert chat(proxy_client, routed)["X-Gateway-Cache"] == "MISS"
    assert api.delete(base).json()["deleted"] >= 1
    assert chat(proxy_client, routed)["X-Gateway-Cache"] == "MISS"
    assert mock.chats() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"mode": "semantic"}, "embedding_model"),
        ({"mode": "fuzzy"}, "mode"),
        ({"threshold": 1.5}, "threshold"),
        ({"ttl": "soon"}, "ttl"),
        ({"scope": "everyone"}, "scope"),
        ({"max_entry_bytes": 0}, "max_entry_bytes"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_settings_are_400_naming_the_field(create_gateway_with, settings, field):
    from tests.plugins.helpers import settings_errors

    assert field in settings_errors(create_gateway_with("response_cache", settings))
