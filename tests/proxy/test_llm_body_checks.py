"""The LLM front checks a request's body once at the edge, and again only when a plugin replaced
it: a body rewritten into one that is no request of its endpoint is still refused, one rewritten
into a valid request is the one sent."""

from __future__ import annotations

import json

import pytest

from plugins.base import Plugin
from plugins.sdk.context import RequestContext
from tests.builders import llm_chat
from tests.e2e.test_llm_front_e2e import provider_target

HELLO = [{"role": "user", "content": "hello"}]
REWRITES = {
    "unchecked": json.dumps({"model": "gpt-4o-mini", "messages": "not a list"}).encode(),
    "shout": json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "HI"}]}),
}


class RewriterPlugin(Plugin):
    """Replaces the request's body with REWRITES[<its label header>] (none: left as it is)."""

    name = "body_rewriter"
    category = "request_validation"
    allowed_stages = ("pre_request",)

    def pre_request(self, request: RequestContext) -> None:
        rewrite = REWRITES.get(request.headers.get("X-Rewrite", ""))
        if rewrite is not None:
            body = rewrite if isinstance(rewrite, bytes) else rewrite.encode()
            request.replace_body(body)


@pytest.fixture
def rewriter(settings):
    from gateway_project.conf import DEFAULTS
    from plugins.registry import registry

    plugins = [*DEFAULTS["PLUGINS"], f"{__name__}.RewriterPlugin"]
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": plugins}
    registry.load()
    yield
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


@pytest.fixture
def gateway(rewriter, mock, llm_gateway):
    chain = [{"name": "body_rewriter", "stage": "pre_request", "priority": 1, "settings": {}}]
    return llm_gateway([provider_target("openai", mock.url)], plugin_chain=chain)


def test_a_body_a_plugin_rewrote_into_no_chat_request_is_refused(gateway, mock, proxy_client):
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    response = llm_chat(proxy_client, gateway, body, HTTP_X_REWRITE="unchecked")
    assert mock.seen == []  # refused by the gateway: nothing reached the provider
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "invalid request body"


def test_a_body_a_plugin_rewrote_into_a_chat_request_is_the_one_sent(gateway, mock, proxy_client):
    body = {"model": "gpt-4o-mini", "messages": HELLO}
    response = llm_chat(proxy_client, gateway, body, HTTP_X_REWRITE="shout")
    assert response.status_code == 200
    assert json.loads(mock.seen[-1].body)["messages"] == [{"role": "user", "content": "HI"}]


def test_a_body_no_plugin_rewrote_is_sent_as_the_client_sent_it(gateway, mock, proxy_client):
    raw = json.dumps({"model": "gpt-4o-mini", "messages": HELLO}, indent=1)
    response = proxy_client.post(
        "/v1/chat/completions",
        raw,
        content_type="application/json",
        HTTP_HOST="llm.localhost",
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
    )
    assert response.status_code == 200
    assert mock.seen[-1].body == raw.encode()  # the bytes of record, not a re-encoding
