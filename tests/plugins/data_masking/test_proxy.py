"""data_masking on the real proxy path with a real upstream: what the upstream sees, what the
client gets, TrustGate's expectations, bodies of each kind, reversible tokens, failing closed."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl

HOST = "api.localhost"
SECRET = "a-long-enough-hmac-secret"
TRUSTGATE_BODY = {
    "credit_card": "this is a credit card 4111-2222-3333-4444",
    "email": "test@example.com",
    "iban": "DE89370400440532013000",
    "swift_bic": "DEUTDEFF500",
    "crypto_wallet": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "tax_id": "12-3456789",
    "stripe_key": "I logged in using the API key: sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "secret_key": "and my secret_key is this_is_secret",
}
TRUSTGATE_ENTITIES = {
    "credit_card": "[MASKED_CC]",
    "email": "[MASKED_EMAIL]",
    "iban": "[MASKED_IBAN]",
    "swift_bic": "[MASKED_BIC]",
    "crypto_wallet": "[MASKED_WALLET]",
    "tax_id": "[MASKED_TAX_ID]",
    "stripe_key": "[MASKED_API_KEY]",
}
KEYWORD_RULE = {
    "pattern": "secret_key",
    "type": "keyword",
    "mask_with": "****",
    "preserve_len": True,
}
TRUSTGATE_SETTINGS = {
    "predefined_entities": [
        {"entity": name, "enabled": True, "mask_with": mask, "preserve_len": False}
        for name, mask in TRUSTGATE_ENTITIES.items()
    ],
    "rules": [KEYWORD_RULE],
}


def masking(stage: str = "pre_request", **settings) -> dict:
    return {"name": "data_masking", "stage": stage, "priority": 1, "settings": settings}


def post(proxy_client, gateway, body, content_type="application/json", path="/echo"):
    data = json.dumps(body) if content_type == "application/json" else body
    return proxy_client.post(
        path, data, content_type=content_type, HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key
    )


def test_trustgate_example_reaches_the_upstream_masked(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(**TRUSTGATE_SETTINGS)])
    response = post(proxy_client, gateway, TRUSTGATE_BODY)
    assert response.status_code == 200
    seen = upstream.seen[-1]
    assert json.loads(seen.body) == {
        "credit_card": "this is a credit card [MASKED_CC]",
        "email": "[MASKED_EMAIL]",
        "iban": "[MASKED_IBAN]",
        "swift_bic": "[MASKED_BIC]",
        "crypto_wallet": "[MASKED_WALLET]",
        "tax_id": "[MASKED_TAX_ID]",
        "stripe_key": "I logged in using the API key: [MASKED_API_KEY]",
        "secret_key": "and my **** is this_is_secret",
    }
    assert list(json.loads(seen.body)) == list(TRUSTGATE_BODY)  # keys kept, in order
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_apply_all_masks_every_entity_hit_with_the_generic_mask(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(apply_all=True, rules=[KEYWORD_RULE])])
    post(proxy_client, gateway, TRUSTGATE_BODY)
    seen = json.loads(upstream.seen[-1].body)
    assert seen["credit_card"] == "this is a credit card *****"
    for name in ("email", "iban", "swift_bic", "crypto_wallet", "tax_id"):
        assert seen[name] == "*****", name
    assert seen["stripe_key"] == "I logged in using the API key: *****"
    assert seen["secret_key"] == "and my **** is this_is_secret"


def test_post_response_masks_the_answer_not_the_request(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking("post_response", **TRUSTGATE_SETTINGS)])
    response = post(proxy_client, gateway, TRUSTGATE_BODY)
    assert json.loads(upstream.seen[-1].body) == TRUSTGATE_BODY
    echoed = json.loads(json.loads(response.content)["body"])
    assert echoed["email"] == "[MASKED_EMAIL]"
    # The echoed body is text inside a string value: the keyword is masked in its keys too.
    assert echoed["****"] == "and my **** is this_is_secret"
    assert response["Content-Length"] == str(len(response.content))
    assert b"test@example.com" not in response.content


def token(kind: str, value: str) -> str:
    digest = hmac.new(SECRET.encode(), value.encode(), hashlib.sha256).hexdigest()[:8]
    return f"<PII_{kind.upper()}_{digest}>"


def reversible_chain(**extra) -> list[dict]:
    reversible = {"enabled": True, "secret": SECRET}
    entities = [{"entity": "email"}, {"entity": "credit_card"}]
    return [
        masking(predefined_entities=entities, reversible_hashing=reversible, **extra),
        masking("post_response", predefined_entities=entities, reversible_hashing=reversible),
    ]


def test_reversible_round_trip(route, upstream, proxy_client):
    gateway = route(plugin_chain=reversible_chain())
    body = {
        "messages": [{"role": "user", "content": "mail jane@example.com, card 4111111111111111"}]
    }
    response = post(proxy_client, gateway, body)
    upstream_text = json.loads(upstream.seen[-1].body)["messages"][0]["content"]
    assert upstream_text == (
        f"mail {token('email', 'jane@example.com')}, "
        f"card {token('credit_card', '4111111111111111')}"
    )
    echoed = json.loads(json.loads(response.content)["body"])
    assert echoed == body  # the client's own values are back in the answer


def test_reversible_tokens_are_stable_and_never_outlive_the_request(route, upstream, proxy_client):
    gateway = route(plugin_chain=reversible_chain())
    post(proxy_client, gateway, {"a": "jane@example.com"})
    post(proxy_client, gateway, {"a": "jane@example.com"})
    assert upstream.seen[0].body == upstream.seen[1].body
    # A token the client sends itself is not a value of this request: it stays a token.
    sent = token("email", "jane@example.com")
    response = post(proxy_client, gateway, {"a": sent})
    assert sent in json.loads(json.loads(response.content)["body"])["a"]


def test_form_values_are_masked_and_names_kept(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "email"}])])
    form = "email=jane%40example.com&email_copy=no&note=write+to+jane%40example.com"
    post(proxy_client, gateway, form, content_type="application/x-www-form-urlencoded")
    seen = upstream.seen[-1]
    assert parse_qsl(seen.body.decode()) == [
        ("email", "[MASKED_EMAIL]"),
        ("email_copy", "no"),
        ("note", "write to [MASKED_EMAIL]"),
    ]
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_text_bodies_are_masked_as_text(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "ssn"}])])
    post(proxy_client, gateway, "my ssn is 536-22-1234.", content_type="text/plain")
    assert upstream.seen[-1].body == b"my ssn is [MASKED_SSN]."


def test_binary_bodies_pass_untouched(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "email"}])])
    payload = b"\x89PNG\r\n\x1a\n jane@example.com \x00\xff"
    post(proxy_client, gateway, payload, content_type="image/png")
    post(proxy_client, gateway, payload, content_type="application/octet-stream")
    assert [seen.body for seen in upstream.seen] == [payload, payload]


def test_json_keys_and_non_string_values_are_kept(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "email"}])])
    body = {"jane@example.com": [1, 2.5, True, None, {"to": "jane@example.com"}]}
    post(proxy_client, gateway, body)
    assert json.loads(upstream.seen[-1].body) == {
        "jane@example.com": [1, 2.5, True, None, {"to": "[MASKED_EMAIL]"}]
    }


def test_an_unmasked_body_is_forwarded_byte_for_byte(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "email"}])])
    raw = '{ "spaced" :  "nothing to mask" }'
    post(proxy_client, gateway, raw, content_type="application/json; charset=utf-8")
    assert upstream.seen[-1].body == raw.encode()


def test_a_masking_crash_answers_500_and_the_upstream_sees_nothing(
    route, upstream, proxy_client, caplog
):
    """A text body that is not the UTF-8 it declares cannot be masked: the masker raises."""
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "credit_card"}])])
    body = b"card 4111 1111 1111 1111 \xff\xfe"
    response = post(proxy_client, gateway, body, content_type="text/plain; charset=utf-8")
    assert response.status_code == 500
    assert json.loads(response.content) == {"error": "data masking failed"}
    assert upstream.seen == []
    assert "data masking failed: UnicodeDecodeError" in caplog.text
    assert "4111" not in caplog.text
