"""data_masking on multipart uploads through gunicorn, as an HTTP client library encodes them:
text fields and text files masked, a binary file byte for byte, a broken body refused."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.builders import routed_gateway

pytestmark = pytest.mark.e2e

ENTITIES = [{"entity": "email"}, {"entity": "credit_card"}]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + b" jane@example.com \r\n--x"
_names = itertools.count(1)


def masking_gateway(server, upstream) -> tuple[str, str]:
    subdomain = f"e2e-multipart-{next(_names)}"
    plugin = {
        "name": "data_masking",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"predefined_entities": ENTITIES},
    }
    gateway = routed_gateway(
        server.post,
        subdomain=subdomain,
        targets=[("127.0.0.1", upstream.port)],
        required_plugins=[plugin],
    )
    return subdomain, gateway.key


def test_an_upload_reaches_the_upstream_with_text_masked_and_files_intact(
    gateway_server, e2e_upstream
):
    subdomain, key = masking_gateway(gateway_server, e2e_upstream)
    response = gateway_server.proxy(
        subdomain,
        "/upload",
        method="POST",
        key=key,
        data={"note": "mail jane@example.com", "card_number": "4111-2222-3333-4444"},
        files={
            "photo": ("photo.png", PNG, "image/png"),
            "meta": ("meta.json", b'{"to": "jane@example.com"}', "application/json"),
        },
    )
    assert response.status_code == 200
    seen = e2e_upstream.seen[-1]
    body = seen.body
    assert seen.headers["Content-Length"] == str(len(body))
    assert b"jane@example.com" not in body.replace(PNG, b"")
    assert PNG in body
    assert b"\r\n\r\nmail [MASKED_EMAIL]\r\n" in body
    assert b"\r\n\r\n[MASKED_CC]\r\n" in body
    assert b'\r\n\r\n{"to":"[MASKED_EMAIL]"}\r\n' in body
    boundary = seen.headers["Content-Type"].split("boundary=", 1)[1].encode()
    assert body.startswith(b"--" + boundary + b"\r\n")
    assert body.endswith(b"--" + boundary + b"--\r\n")


def test_a_multipart_body_without_its_closing_delimiter_is_refused(gateway_server, e2e_upstream):
    subdomain, key = masking_gateway(gateway_server, e2e_upstream)
    before = len(e2e_upstream.seen)
    body = b'--b1\r\nContent-Disposition: form-data; name="note"\r\n\r\nmail jane@example.com\r\n'
    response = gateway_server.proxy(
        subdomain,
        "/upload",
        method="POST",
        key=key,
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b1"},
    )
    assert response.status_code == 400
    assert "multipart" in json.loads(response.content)["error"]
    assert len(e2e_upstream.seen) == before
