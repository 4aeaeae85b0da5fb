"""Streamed answers of any text type through gunicorn are masked (JavaScript, RSS, no
Content-Type), a binary one passes byte for byte."""

from __future__ import annotations

import pytest

from tests.builders import routed_gateway

pytestmark = pytest.mark.e2e

EMAIL = "john.doe@example.com"
SPLIT = ["reach me at jo", "hn.doe@exa", "mple.com today"]
MASKED = "reach me at [MASKED_EMAIL] today"
MASKING = {
    "name": "data_masking",
    "stage": "post_response",
    "priority": 1,
    "settings": {"predefined_entities": [{"entity": "email"}]},
}


def test_streams_of_text_types_are_masked_and_binary_ones_untouched(gateway_server, e2e_upstream):
    subdomain = "e2e-stream-types"
    gateway = routed_gateway(
        gateway_server.post,
        subdomain=subdomain,
        targets=[("127.0.0.1", e2e_upstream.port)],
        plugin_chain=[MASKING],
    )

    def streamed(script: dict):
        return gateway_server.proxy(
            subdomain, "/scripted", method="POST", key=gateway.key, json=script
        )

    for content_type in ["application/javascript", "application/rss+xml", None]:
        response = streamed({"chunks": SPLIT, "content_type": content_type})
        assert (response.status_code, response.content.decode()) == (200, MASKED), content_type
    binary = ["\x89PNG\r\n\x1a\n\x00", f"{EMAIL}\xff"]
    response = streamed({"raw_chunks": binary, "content_type": "image/png"})
    assert response.content == "".join(binary).encode("latin-1")
