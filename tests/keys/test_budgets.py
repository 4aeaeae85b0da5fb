"""Dollar budgets of keys and gateways: the largest cost reserved at admission (402
`budget_exceeded` when it cannot fit), the metered cost settled when the request ends, windows,
unpriced targets refused; spend per key, model and provider flushed to the database and read
through the spend API."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from keys.budgets import Budget, budgets_reserve, window_of
from keys.models import Spend
from tests.builders import in_process_post, provider_target, routed_gateway
from tests.llm_mocks import replies
from tests.llm_mocks.server import LLMMockServer

MODEL = "gpt-4o-mini"
PRICING = {"input_per_million": 1000.0, "output_per_million": 2000.0}
# The mock reports 11 prompt and 7 completion tokens: 0.011 + 0.014 dollars.
COST = (replies.PROMPT_TOKENS * 1000 + replies.COMPLETION_TOKENS * 2000) / 1_000_000
# A prompt of 44 characters is estimated at 11 tokens: with max_tokens 7, the reservation is
# exactly what the mock's answer costs.
CHAT = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "x" * 4 * replies.PROMPT_TOKENS}],
    "max_tokens": replies.COMPLETION_TOKENS,
}
REMAINING = "x-gateway-budget-remaining-usd"


def ms(*moment: int) -> int:
    return int(datetime(*moment, tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("duration", "now", "start", "end"),
    [
        ("1h", (2026, 3, 4, 10, 59), (2026, 3, 4, 10), (2026, 3, 4, 11)),
        ("1d", (2026, 3, 4, 23, 59), (2026, 3, 4), (2026, 3, 5)),
        ("1w", (2026, 3, 8, 23), (2026, 3, 2), (2026, 3, 9)),  # Monday to Monday
        ("1mo", (2024, 2, 29, 12), (2024, 2, 1), (2024, 3, 1)),
        ("1mo", (2026, 12, 31, 23), (2026, 12, 1), (2027, 1, 1)),
    ],
)
def test_windows_start_on_their_boundary(duration, now, start, end):
    assert window_of(duration, ms(*now)) == (ms(*start), ms(*end))
    assert window_of("", ms(*now)) == (0, None)


def test_the_next_window_starts_empty_and_both_budgets_must_fit(db):
    gid = uuid.uuid4().hex
    key = Budget(f"key:{gid}", 100, "1h")
    gateway = Budget(f"gateway:{gid}", 150, "")
    now = ms(2026, 3, 4, 10, 30)
    admitted, _ = budgets_reserve(gateway_id=gid, budgets=[key, gateway], nanos=100, now_ms=now)
    assert admitted.admitted
    assert admitted.remaining_nanos == 0
    refused, reservation = budgets_reserve(gateway_id=gid, budgets=[key], nanos=1, now_ms=now)
    assert not refused.admitted
    assert reservation is None
    later = ms(2026, 3, 4, 11)
    next_hour, _ = budgets_reserve(gateway_id=gid, budgets=[key, gateway], nanos=60, now_ms=later)
    assert not next_hour.admitted  # the key's hour is new, the gateway's budget never resets
    assert next_hour.refused == gateway
    alone, _ = budgets_reserve(gateway_id=gid, budgets=[key], nanos=100, now_ms=later)
    assert alone.admitted


@pytest.fixture
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture
def priced(transactional_db, api, mock):
    return routed_gateway(
        in_process_post(api),
        subdomain="llm",
        target_dicts=[
            provider_target(
                mock.port, model=MODEL, credentials={"api_key": replies.API_KEY}, pricing=PRICING
            )
        ],
        path="/v1/*",
    )


def new_key(api, gateway_id: str, **fields) -> tuple[str, str]:
    response = api.post(
        f"/api/v1/gateways/{gateway_id}/keys", {"name": "budgeted"} | fields, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"], response.json()["key"]


def chat(proxy_client, key: str, body: dict = CHAT, path: str = "/v1/chat/completions", **headers):
    response = proxy_client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST="llm.localhost",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )
    if response.streaming:
        response.content_text = b"".join(response.streaming_content).decode()
        response.close()
    return response


def test_a_request_that_cannot_fit_is_refused_at_admission(api, proxy_client, priced, mock):
    key_id, key = new_key(api, priced.id, max_budget_usd=2 * COST, budget_duration="1d")
    first = chat(proxy_client, key)
    assert first.status_code == 200
    assert first[REMAINING] == f"{COST:.6f}"
    assert chat(proxy_client, key)[REMAINING] == "0.000000"
    refused = chat(proxy_client, key)
    assert refused.status_code == 402  # not 429: the SDKs do not retry it
    error = refused.json()["error"]
    assert error["code"] == "budget_exceeded"
    assert "0.000000 USD left" in error["message"]
    assert refused[REMAINING] == "0.000000"
    assert len(mock.seen) == 2
    spent = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()
    assert spent["total"] == {"cost_usd": pytest.approx(2 * COST), "requests": 2}
    assert spent["budget"]["remaining_usd"] == 0


def test_the_metered_cost_replaces_the_reservation(api, proxy_client, priced):
    key_id, key = new_key(api, priced.id, max_budget_usd=10)
    body = {**CHAT, "max_tokens": 1000, "n": 2}  # reserves 0.011 + 2 x 1000 x 0.002 dollars
    answer = chat(proxy_client, key, body)
    assert answer.status_code == 200
    assert float(answer[REMAINING]) == pytest.approx(10 - 0.011 - 4)
    budget = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()["budget"]
    assert budget["used_usd"] == pytest.approx(COST)  # settled: the answer's usage
    assert budget["remaining_usd"] == pytest.approx(10 - COST)


def test_a_streamed_answer_settles_its_metered_cost(api, proxy_client, priced):
    key_id, key = new_key(api, priced.id, max_budget_usd=1)
    streamed = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    assert chat(proxy_client, key, streamed).status_code == 200
    budget = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()["budget"]
    assert budget["used_usd"] == pytest.approx(COST)


def test_a_responses_request_is_budgeted_as_chat(api, proxy_client, priced, mock):
    key_id, key = new_key(api, priced.id, max_budget_usd=COST, budget_duration="1d")
    body = {"model": MODEL, "input": CHAT["messages"][0]["content"], "max_output_tokens": 7}
    first = chat(proxy_client, key, body, path="/v1/responses")
    assert first.status_code == 200, first.content
    assert first[REMAINING] == "0.000000"
    refused = chat(proxy_client, key, body, path="/v1/responses")
    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert len(mock.seen) == 1
    spent = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()
    assert spent["total"] == {"cost_usd": pytest.approx(COST), "requests": 1}
    roomy_id, roomy = new_key(api, priced.id, max_budget_usd=1)
    streamed = chat(proxy_client, roomy, {**body, "stream": True}, path="/v1/responses")
    assert streamed.status_code == 200
    budget = api.get(f"/api/v1/gateways/{priced.id}/keys/{roomy_id}/spend").json()["budget"]
    assert budget["used_usd"] == pytest.approx(COST)  # the stream's metered usage


def test_a_stream_cut_before_its_usage_settles_what_was_delivered(api, proxy_client, priced):
    key_id, key = new_key(api, priced.id, max_budget_usd=10)
    text = "x" * (4 * replies.PROMPT_TOKENS - len(replies.CUT)) + replies.CUT  # 11 tokens
    streamed = {
        **CHAT,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": 1000,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = chat(proxy_client, key, streamed)
    assert response.status_code == 200
    events = [
        json.loads(line[6:])
        for line in response.content_text.splitlines()
        if line.startswith("data: {")
    ]
    delivered = "".join(
        choice["delta"].get("content", "")
        for event in events
        for choice in event.get("choices", ())  # the last: the error that ends it
    )
    assert 0 < len(delivered) < len(text)  # the mock cut its echo mid-way, before the usage
    completion = -(-len(delivered) // 4)
    budget = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()["budget"]
    cost = (replies.PROMPT_TOKENS * 1000 + completion * 2000) / 1_000_000
    assert budget["used_usd"] == pytest.approx(cost)  # not the 2.011 dollars reserved


def test_a_stream_the_client_left_settles_what_was_delivered(api, proxy_client, priced):
    key_id, key = new_key(api, priced.id, max_budget_usd=10)
    streamed = {**CHAT, "max_tokens": 1000, "stream": True}
    response = proxy_client.post(
        "/v1/chat/completions",
        json.dumps(streamed),
        content_type="application/json",
        HTTP_HOST="llm.localhost",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200
    next(iter(response.streaming_content))  # the first chunk (the role's; more if coalesced)
    response.close()  # the client went away
    used = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()["budget"]["used_usd"]
    prompt = replies.PROMPT_TOKENS * 1000 / 1_000_000
    echo = len(CHAT["messages"][0]["content"]) / 4 * 2000 / 1_000_000  # the whole answer's text
    assert prompt <= used <= prompt + echo  # not the 2.011 dollars reserved


def test_an_answer_that_failed_releases_its_reservation(api, proxy_client, priced, mock):
    key_id, key = new_key(api, priced.id, max_budget_usd=1)
    mock.fail_status = 400
    assert chat(proxy_client, key).status_code == 400
    budget = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}/spend").json()["budget"]
    assert budget["used_usd"] == 0


def test_the_gateways_budget_applies_beside_the_keys(api, proxy_client, priced):
    api.patch(f"/api/v1/gateways/{priced.id}", {"max_budget_usd": COST}, format="json")
    _, roomy = new_key(api, priced.id, max_budget_usd=100)
    assert chat(proxy_client, roomy).status_code == 200
    refused = chat(proxy_client, priced.key)  # a key without a budget of its own
    assert refused.status_code == 402
    assert "the gateway's budget" in refused.json()["error"]["message"]


def test_a_budget_on_an_unpriced_target_is_refused(api, proxy_client, transactional_db, mock):
    routed = routed_gateway(
        in_process_post(api),
        subdomain="llm",
        target_dicts=[
            provider_target(mock.port, model=MODEL, credentials={"api_key": replies.API_KEY})
        ],
        path="/v1/*",
    )
    _, key = new_key(api, routed.id, max_budget_usd=10)
    refused = chat(proxy_client, key)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "budget_unpriced"
    assert mock.seen == []
    assert chat(proxy_client, routed.key).status_code == 200  # no budget: nothing to count


def test_a_budgeted_request_makes_no_database_query(
    api, proxy_client, priced, django_assert_num_queries
):
    _, key = new_key(api, priced.id, max_budget_usd=1)
    chat(proxy_client, key)  # the snapshot is built
    with django_assert_num_queries(0):
        assert chat(proxy_client, key).status_code == 200


def test_spend_per_key_model_and_provider_is_flushed_and_read(api, proxy_client, priced):
    key_id, key = new_key(api, priced.id)
    for _ in range(3):
        assert chat(proxy_client, key).status_code == 200
    assert chat(proxy_client, priced.key).status_code == 200
    assert Spend.objects.count() == 0  # no database write per request
    out = StringIO()
    call_command("flush_spend", stdout=out)
    assert "2 spend rows flushed" in out.getvalue()
    base = f"/api/v1/gateways/{priced.id}/spend"
    by_key = api.get(base, {"group_by": "key"}).json()
    assert by_key["total"] == {"cost_usd": pytest.approx(4 * COST), "requests": 4}
    assert by_key["spend"][0] == {"key": key_id, "cost_usd": pytest.approx(3 * COST), "requests": 3}
    assert api.get(base, {"group_by": "model"}).json()["spend"] == [
        {"model": MODEL, "cost_usd": pytest.approx(4 * COST), "requests": 4}
    ]
    assert api.get(base, {"group_by": "provider"}).json()["spend"][0]["provider"] == "openai"
    today = datetime.now(UTC).date().isoformat()
    by_day = api.get(base, {"group_by": "day", "from": today, "to": today}).json()
    assert by_day["spend"][0]["day"] == today
    assert api.get(base, {"from": "2000-01-01", "to": "2000-01-02"}).json()["spend"] == []
    call_command("flush_spend", stdout=StringIO())  # again: the same totals, not twice
    assert api.get(base).json()["total"]["requests"] == 4


def test_the_spend_query_is_validated_at_the_edge(api, priced):
    base = f"/api/v1/gateways/{priced.id}/spend"
    for query, field in (
        ({"group_by": "colour"}, "group_by"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2026-02-02", "to": "2026-02-01"}, "to"),
        ({"since": "2026-02-02"}, "since"),
    ):
        response = api.get(base, query)
        assert response.status_code == 400, query
        assert field in response.json()["fields"]


def test_the_monitoring_page_shows_spend_by_key_and_model(api, proxy_client, priced, admin_client):
    _, key = new_key(api, priced.id, name="team-a")
    assert chat(proxy_client, key).status_code == 200
    page = admin_client.get(f"/admin/monitoring/{priced.id}/").content.decode()
    by_key = page[page.index('id="spend-by-key"') :]
    assert "team-a" in by_key[: by_key.index("</table>")]
    by_model = page[page.index('id="spend-by-model"') :]
    assert f'<td>{MODEL}</td><td class="num">1</td><td class="num">${COST:.4f}</td>' in by_model


def test_the_django_admin_edits_scopes_and_budgets_as_the_api_validates_them(
    api, priced, admin_client
):
    key_id, _ = new_key(api, priced.id)
    url = f"/admin/keys/apikey/{key_id}/change/"
    form = {
        "gateway": priced.id,
        "name": "edited",
        "policies": json.dumps([priced.rule["id"]]),
        "allowed_models": json.dumps(["gpt-*"]),
        "max_budget_usd": "2.5",
        "budget_duration": "1mo",
    }
    assert admin_client.post(url, form).status_code == 302
    saved = api.get(f"/api/v1/gateways/{priced.id}/keys/{key_id}").json()
    assert saved["policies"] == [priced.rule["id"]]
    assert (saved["allowed_models"], saved["max_budget_usd"]) == (["gpt-*"], 2.5)
    for field, value in (
        ("policies", json.dumps([str(uuid.uuid4())])),
        ("budget_duration", "monthly"),
        ("allowed_models", json.dumps([" x"])),
    ):
        refused = admin_client.post(url, {**form, field: value})
        assert refused.status_code == 200  # the form again, with the error
        assert refused.context["adminform"].form.errors[field], field
    assert admin_client.get("/admin/keys/spend/").status_code == 200
