"""Ways around data_masking, replayed on the proxy path with a real upstream: a JSON key as
context, invisible and combining characters, other digits, multipart bodies, query strings,
headers and key names; text outside a masked value reaches the upstream byte for byte."""

from __future__ import annotations

import json

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.sdk.context import ResponseContext
from plugins.sdk.streams.rewriter import stream_rewriter
from tests.plugins.helpers import make_plugin, make_request, settings_errors

CARD = "4111-2222-3333-4444"  # fails Luhn: masked only next to a context word
HOST = "api.localhost"
BOUNDARY = "----form7MA4YWxkTrZu0gW"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00 jane@example.com \r\n--" + b"\xff\xfe"


def masking(**settings) -> dict:
    settings.setdefault("predefined_entities", [{"entity": "email"}, {"entity": "credit_card"}])
    return {"name": "data_masking", "stage": "pre_request", "priority": 1, "settings": settings}


def send(proxy_client, gateway, body, content_type="application/json", path="/echo", **extra):
    data = json.dumps(body, ensure_ascii=False) if content_type == "application/json" else body
    return proxy_client.post(
        path, data, content_type=content_type, HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, **extra
    )


def test_a_json_key_naming_the_entity_is_its_context_word(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    body = {
        "credit_card": CARD,
        "cardNumber": CARD,
        "payment": {"card-number": CARD, "items": [{"note": CARD}]},
    }
    send(proxy_client, gateway, body)
    assert json.loads(upstream.seen[-1].body) == {
        "credit_card": "[MASKED_CC]",
        "cardNumber": "[MASKED_CC]",
        "payment": {"card-number": "[MASKED_CC]", "items": [{"note": CARD}]},
    }


def test_after_context_entities_take_their_key_as_context(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(predefined_entities=[{"entity": "passport"}])])
    send(proxy_client, gateway, {"passport": "X1234567", "ticket": "X1234567"})
    assert json.loads(upstream.seen[-1].body) == {
        "passport": "[MASKED_PASSPORT]",
        "ticket": "X1234567",
    }


def test_invisible_and_combining_characters_do_not_hide_a_value(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    texts = [
        "write to ja\u00adne@example.com now",  # soft hyphen
        "write to jane@exa\u200bmple.com now",  # zero-width space
        "write to jane\u180e@example.com now",  # Mongolian vowel separator
        "write to ja\u0301ne@example.com now",  # combining acute accent
        "write to jane@example\u2062.com now",  # invisible times (another format character)
    ]
    for text in texts:
        send(proxy_client, gateway, text, content_type="text/plain; charset=utf-8")
    assert [seen.body.decode() for seen in upstream.seen] == ["write to [MASKED_EMAIL] now"] * 5


def test_other_digits_do_not_hide_a_card_number(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    fullwidth = "４１１１ １１１１ １１１１ １１１１"
    arabic_indic = "٤١١١ ١١١١ ١١١١ ١١١١"
    send(proxy_client, gateway, {"a": f"pay {fullwidth}", "b": f"pay {arabic_indic}"})
    assert json.loads(upstream.seen[-1].body) == {"a": "pay [MASKED_CC]", "b": "pay [MASKED_CC]"}


def test_text_outside_a_masked_value_is_forwarded_unchanged(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(normalize_input=True)])
    text = "Ｈｅｌｌｏ ｗｏｒｌｄ ① ﬁle ja\u00adne@example.com Ｂｙｅ ٣ cafe\u0301"
    send(proxy_client, gateway, text, content_type="text/plain; charset=utf-8")
    expected = "Ｈｅｌｌｏ ｗｏｒｌｄ ① ﬁle [MASKED_EMAIL] Ｂｙｅ ٣ cafe\u0301"
    assert upstream.seen[-1].body.decode() == expected


def multipart(*parts: tuple[str, str | None, bytes]) -> bytes:
    """Parts of (name, content type or None, content), as browsers and requests write them."""
    out = b""
    for name, content_type, content in parts:
        head = f'Content-Disposition: form-data; name="{name}"'
        if content_type is not None:
            head += f'; filename="{name}.bin"\r\nContent-Type: {content_type}'
        out += f"--{BOUNDARY}\r\n{head}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def test_multipart_text_parts_are_masked_and_binary_parts_kept(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    body = multipart(
        ("note", None, b"mail jane@example.com please"),
        ("card_number", None, CARD.encode()),
        ("meta", "application/json", b'{"to": "jane@example.com", "n": 1}'),
        ("photo", "image/png", PNG),
        ("blob", "application/octet-stream", b"jane@example.com"),
    )
    send(proxy_client, gateway, body, content_type=f"multipart/form-data; boundary={BOUNDARY}")
    seen = upstream.seen[-1]
    assert seen.body == multipart(
        ("note", None, b"mail [MASKED_EMAIL] please"),
        ("card_number", None, b"[MASKED_CC]"),
        ("meta", "application/json", b'{"to":"[MASKED_EMAIL]","n":1}'),
        ("photo", "image/png", PNG),
        ("blob", "application/octet-stream", b"jane@example.com"),
    )
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_a_multipart_body_that_cannot_be_parsed_is_refused(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    text_part = multipart(("note", None, b"mail jane@example.com"))
    with_boundary = f"multipart/form-data; boundary={BOUNDARY}"
    bodies = [
        (with_boundary, text_part[:-12]),  # no closing delimiter
        ("multipart/form-data", text_part),  # no boundary
        # The closing delimiter after a bare LF: another parser's delimiter, not ours.
        (
            with_boundary,
            text_part.replace(b"\r\n--" + BOUNDARY.encode() + b"--", b"\n--" + BOUNDARY.encode()),
        ),
    ]
    for content_type, body in bodies:
        response = send(proxy_client, gateway, body, content_type=content_type)
        assert response.status_code == 400, content_type
        assert "multipart" in json.loads(response.content)["error"]
    encoded = multipart(("note", None, b"x")).replace(
        b'name="note"', b'name="note"\r\nContent-Transfer-Encoding: base64'
    )
    response = send(
        proxy_client, gateway, encoded, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert response.status_code == 400
    assert upstream.seen == []


def test_query_values_are_masked_when_asked(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(targets={"query": True})])
    query = f"to=jane%40example.com&card={CARD}&page=2&q=%E2%91%A0"
    proxy_client.get(f"/echo?{query}", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert (
        upstream.seen[-1].query == "to=%5BMASKED_EMAIL%5D&card=%5BMASKED_CC%5D&page=2&q=%E2%91%A0"
    )


def test_query_values_are_left_alone_by_default(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    proxy_client.get("/echo?to=jane%40example.com", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert upstream.seen[-1].query == "to=jane%40example.com"


def test_chosen_headers_are_masked(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking(targets={"headers": ["X-User-Email", "x-card"]})])
    proxy_client.get(
        "/echo",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        HTTP_X_USER_EMAIL="jane@example.com",
        HTTP_X_CARD=CARD,
        HTTP_X_OTHER="jane@example.com",
    )
    headers = upstream.seen[-1].headers
    assert headers["X-User-Email"] == "[MASKED_EMAIL]"
    assert headers["X-Card"] == "[MASKED_CC]"
    assert headers["X-Other"] == "jane@example.com"


def test_json_key_names_are_masked_when_asked(route, upstream, proxy_client):
    body = {"jane@example.com": {"bob@example.com": "hi"}, "plain": "x"}
    masked = {"[MASKED_EMAIL]": {"[MASKED_EMAIL]": "hi"}, "plain": "x"}
    kept = route(subdomain="kept", plugin_chain=[masking()])
    gateway = route(plugin_chain=[masking(targets={"json_keys": True})])
    send(proxy_client, gateway, body)
    proxy_client.post(
        "/echo", json.dumps(body), content_type="application/json",
        HTTP_HOST="kept.localhost", HTTP_X_API_KEY=kept.key,
    )  # fmt: skip
    assert [json.loads(seen.body) for seen in upstream.seen] == [masked, body]


@pytest.mark.parametrize(
    ("targets", "path"),
    [
        ({"query": "yes"}, ["query"]),
        ({"body": True}, ["body"]),
        ({"headers": ["a b"]}, ["headers", "0"]),
        ({"headers": ["X-API-Key"]}, ["headers"]),
        ({"headers": "x-user-email"}, ["headers"]),
    ],
)
def test_targets_are_validated_strictly(api, targets, path):
    settings = {"predefined_entities": [{"entity": "email"}], "targets": targets}
    payload = {"name": "targets", "subdomain": "targets", "required_plugins": [masking(**settings)]}
    errors = settings_errors(api.post("/api/v1/gateways", payload, format="json"))["targets"]
    for key in path:
        errors = errors[key]
    assert errors


def streamed(plugin, pieces: list[str]) -> str:
    """The text of a plain-text answer streamed through `plugin` in `pieces`."""
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": "text/plain"}))
    rewriter = stream_rewriter((plugin,), make_request(), response)

    def chunks():
        for piece in pieces:
            yield piece.encode()
        return True

    return b"".join(rewriter.rewrite(chunks())).decode()


@pytest.mark.parametrize("size", [1, 5, 300])
def test_a_streamed_answer_folds_the_same_and_keeps_the_rest(size):
    plugin = make_plugin("data_masking", masking()["settings"], stage="post_response")
    text = "Ｈｅｌｌｏ ja\u00adne@exa\u200bmple.com ① card ٤١١١ ٢٢٢٢ ٣٣٣٣ ٤٤٤٤ ﬁn. " * 4
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    assert streamed(plugin, pieces) == "Ｈｅｌｌｏ [MASKED_EMAIL] ① card [MASKED_CC] ﬁn. " * 4
