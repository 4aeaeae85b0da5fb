"""response_cache with the OpenAI SDK through gunicorn: hits that spare the provider, streams
replayed from JSON answers and back, keys and gateways never sharing answers, no-store, broken
streams never kept, reversible masking restored on hits, semantic matches over and under the
threshold (a mock embedding provider returning controlled vectors)."""

from __future__ import annotations

import json

import openai
import pytest

from tests.builders import created, routed_gateway
from tests.cache_upstream import USAGE, CacheMockServer

pytestmark = pytest.mark.e2e

MODEL, EMBEDDINGS = "gpt-4o-mini", "embed-small"
SECRET = "a-secret-of-sixteen-or-more"
REVERSIBLE = {
    "predefined_entities": [{"entity": "email"}],
    "reversible_hashing": {"enabled": True, "secret": SECRET},
}
QUESTION = "What is the capital of France?"
PARAPHRASE = "Tell me the capital city of France"
FAR = "What is the capital of Spain?"


@pytest.fixture(scope="module")
def mock():
    server = CacheMockServer().start()
    server.vectors = {QUESTION: [1.0, 0.0, 0.0], PARAPHRASE: [0.99, 0.1, 0.0], FAR: [0.8, 0.6, 0]}
    yield server
    server.stop()


@pytest.fixture(scope="module")
def gateways(gateway_server, mock):
    """`gateways(subdomain, *plugins, **cache settings)`: a gateway whose rule `/v1/*` goes to
    the mock, its chain the plugins then response_cache; built once per subdomain."""
    built: dict[str, object] = {}

    def build(subdomain: str, *plugins: dict, **settings):
        if subdomain not in built:
            target = {**mock.target(MODEL), "models": [MODEL, EMBEDDINGS]}
            cache = {"name": "response_cache", "stage": "pre_request", "priority": 50}
            chain = [*plugins, {**cache, "settings": settings}]
            built[subdomain] = routed_gateway(
                gateway_server.post,
                subdomain=subdomain,
                target_dicts=[target],
                path="/v1/*",
                plugin_chain=chain,
            )
        return built[subdomain]

    return build


def client_of(gateway_server, subdomain: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=f"{gateway_server.base_url}/v1",
        api_key=key,
        default_headers={"Host": f"{subdomain}.localhost"},
        max_retries=0,
        timeout=10,
    )


def ask(client: openai.OpenAI, content: str, **extra):
    """(X-Gateway-Cache, the answer's text, the completion or the chunks, headers)."""
    messages = [{"role": "user", "content": content}]
    if extra.get("stream"):
        stream = client.chat.completions.create(model=MODEL, messages=messages, **extra)
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        return stream.response.headers["X-Gateway-Cache"], text, chunks, stream.response.headers
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=messages, **extra)
    answer = raw.parse()
    return raw.headers["X-Gateway-Cache"], answer.choices[0].message.content, answer, raw.headers


def chats(mock: CacheMockServer, content: str) -> list[dict]:
    """The chat requests the mock saw whose last message is `content`."""
    seen = [json.loads(s.body) for s in mock.seen if s.path.endswith("/chat/completions")]
    return [body for body in seen if body["messages"][-1]["content"] == content]


def test_a_second_identical_request_is_a_hit_and_the_provider_saw_one_call(
    gateway_server, gateways, mock
):
    gateway = gateways("e2e-cache")
    client = client_of(gateway_server, "e2e-cache", gateway.key)
    question = "How many legs has a spider?"
    first, second = ask(client, question), ask(client, question)
    assert (first[0], second[0]) == ("MISS", "HIT")
    assert second[1] == first[1] == f"You said: {question}"
    assert second[2].usage.total_tokens == USAGE["total_tokens"]
    assert int(second[3]["Age"]) >= 0
    assert len(chats(mock, question)) == 1


def test_a_stream_is_replayed_from_a_json_answer_and_the_other_way_round(
    gateway_server, gateways, mock
):
    gateway = gateways("e2e-cache")
    client = client_of(gateway_server, "e2e-cache", gateway.key)
    asked_whole, asked_streamed = "Whole first, then streamed?", "Streamed first, then whole?"
    ask(client, asked_whole)
    cached, text, chunks, _ = ask(
        client, asked_whole, stream=True, stream_options={"include_usage": True}
    )
    assert (cached, text) == ("HIT", f"You said: {asked_whole}")
    assert chunks[-1].usage.total_tokens == USAGE["total_tokens"]
    assert ask(client, asked_streamed, stream=True)[0] == "MISS"
    cached, text, answer, _ = ask(client, asked_streamed)
    assert (cached, text) == ("HIT", f"You said: {asked_streamed}")
    assert answer.usage.total_tokens == USAGE["total_tokens"]
    assert len(chats(mock, asked_whole)) == len(chats(mock, asked_streamed)) == 1


def test_another_key_and_another_gateway_miss(gateway_server, gateways, mock):
    gateway = gateways("e2e-cache")
    other_key = created(gateway_server.post, f"/api/v1/gateways/{gateway.id}/keys", {"name": "b"})
    shared = gateways("e2e-cache-shared", scope="shared")
    question = "Is this answer mine alone?"
    assert ask(client_of(gateway_server, "e2e-cache", gateway.key), question)[0] == "MISS"
    assert ask(client_of(gateway_server, "e2e-cache", other_key["key"]), question)[0] == "MISS"
    assert ask(client_of(gateway_server, "e2e-cache-shared", shared.key), question)[0] == "MISS"
    assert ask(client_of(gateway_server, "e2e-cache", other_key["key"]), question)[0] == "HIT"
    assert len(chats(mock, question)) == 3


def test_no_store_is_honoured_and_a_broken_stream_is_not_stored(gateway_server, gateways, mock):
    gateway = gateways("e2e-cache")
    client = client_of(gateway_server, "e2e-cache", gateway.key)
    question = "Keep nothing of this?"
    no_store = {"Cache-Control": "no-store"}
    assert ask(client, question, extra_headers=no_store)[0] == "BYPASS"
    assert ask(client, question, extra_headers=no_store)[0] == "BYPASS"
    assert ask(client, question)[0] == "MISS"  # nothing was kept

    broken = "Will this stream break?"
    mock.behaviour.break_stream = True
    try:
        with pytest.raises(openai.APIError, match="broke off"):
            ask(client, broken, stream=True)
    finally:
        mock.behaviour.break_stream = False
    assert ask(client, broken, stream=True)[0] == "MISS"
    assert ask(client, broken)[0] == "HIT"
    assert len(chats(mock, question)) == 3
    assert len(chats(mock, broken)) == 2


def test_reversible_masking_restores_the_right_values_on_a_hit(gateway_server, gateways, mock):
    gateway = gateways(
        "e2e-cache-masked",
        {"name": "data_masking", "stage": "pre_request", "priority": 1, "settings": REVERSIBLE},
        {"name": "data_masking", "stage": "post_response", "priority": 1, "settings": REVERSIBLE},
    )
    client = client_of(gateway_server, "e2e-cache-masked", gateway.key)
    question = "Please write to jane@example.com today"
    first, second = ask(client, question), ask(client, question, stream=True)
    assert (first[0], second[0]) == ("MISS", "HIT")
    assert first[3]["X-Request-ID"] != second[3]["X-Request-ID"]
    assert first[1] == second[1] == f"You said: {question}"
    other = "Please write to john@example.com today"
    assert ask(client, other)[:2] == ("MISS", f"You said: {other}")  # another token, key
    seen = [json.loads(s.body)["messages"][-1]["content"] for s in mock.seen]
    assert not any("jane@example.com" in text for text in seen)  # masked: the key too


def test_semantic_a_paraphrase_over_the_threshold_hits_one_under_it_misses(
    gateway_server, gateways, mock
):
    gateway = gateways(
        "e2e-cache-semantic", mode="semantic", embedding_model=EMBEDDINGS, threshold=0.95
    )
    client = client_of(gateway_server, "e2e-cache-semantic", gateway.key)
    assert ask(client, QUESTION)[0] == "MISS"
    cached, text, _, headers = ask(client, PARAPHRASE)
    assert (cached, text) == ("HIT", f"You said: {QUESTION}")
    assert float(headers["X-Gateway-Cache-Similarity"]) >= 0.95
    assert ask(client, FAR)[0] == "MISS"  # cosine 0.8
    assert len(chats(mock, PARAPHRASE)) == 0
    assert len(chats(mock, FAR)) == 1
