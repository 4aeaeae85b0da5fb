"""The body of record through gunicorn: Range on a masked route, gzip and chunked request bodies
masked as the upstream receives them, a gzip bomb, a chat body not labelled JSON."""

from __future__ import annotations

import gzip
import itertools
import json

import pytest

from tests.attacks.test_body_of_record import ANSWER, EMAIL, MASKED, RangeServer, masking
from tests.builders import provider_target, routed_gateway
from tests.raw_http import chunked, raw_exchange, request_head

pytestmark = pytest.mark.e2e

_names = itertools.count(1)


@pytest.fixture(scope="module")
def range_upstream():
    server = RangeServer().start()
    yield server
    server.stop()


def gateway_with(server, port: int, *plugins: dict, **rule) -> tuple[str, str]:
    subdomain = f"e2e-body-{next(_names)}"
    gateway = routed_gateway(
        server.post,
        subdomain=subdomain,
        targets=[("127.0.0.1", port)],
        required_plugins=list(plugins),
        **rule,
    )
    return subdomain, gateway.key


def test_range_on_a_masked_route_gets_the_whole_answer_masked(gateway_server, range_upstream):
    subdomain, key = gateway_with(gateway_server, range_upstream.port, masking("post_response"))
    for first, last in [(0, 22), (23, len(ANSWER) - 1)]:  # the email cut in two pieces
        response = gateway_server.proxy(
            subdomain, "/file", key=key, headers={"Range": f"bytes={first}-{last}"}
        )
        assert response.status_code == 200
        assert response.content == f"the customer is {MASKED}, call them".encode()
        assert "Range" not in range_upstream.seen[-1].headers


def test_gzip_request_body_reaches_the_upstream_decoded_and_masked(gateway_server, e2e_upstream):
    subdomain, key = gateway_with(gateway_server, e2e_upstream.port, masking())
    body = json.dumps({"note": f"mail {EMAIL} today"}).encode()
    response = gateway_server.proxy(
        subdomain,
        "/echo",
        method="POST",
        key=key,
        data=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 200
    seen = e2e_upstream.seen[-1]
    assert json.loads(seen.body) == {"note": f"mail {MASKED} today"}
    assert "Content-Encoding" not in seen.headers


def test_gzip_bomb_is_413(gateway_server, e2e_upstream):
    subdomain, key = gateway_with(gateway_server, e2e_upstream.port, masking())
    limit = 32 * 1024 * 1024  # GATEWAY_MAX_BODY_BYTES's default
    bomb = gzip.compress(b"a" * (limit + 1), compresslevel=9)
    before = len(e2e_upstream.seen)
    response = gateway_server.proxy(
        subdomain,
        "/echo",
        method="POST",
        key=key,
        data=bomb,
        headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 413
    assert response.json() == {"error": f"request body larger than {limit} bytes"}
    assert len(e2e_upstream.seen) == before


@pytest.mark.parametrize("encoding", ["identity", "gzip"])
def test_chunked_request_body_is_masked(gateway_server, e2e_upstream, encoding):
    subdomain, key = gateway_with(gateway_server, e2e_upstream.port, masking())
    body = json.dumps({"note": f"mail {EMAIL} today"}).encode()
    sent = gzip.compress(body) if encoding == "gzip" else body
    headers = {
        "X-API-Key": key,
        "Content-Type": "application/json",
        "Content-Encoding": encoding,
        "Transfer-Encoding": "chunked",
    }
    head = request_head("POST", "/echo", f"{subdomain}.localhost", headers)
    response = raw_exchange(gateway_server.port, head + chunked(sent, size=5))
    assert response.status == 200
    seen = e2e_upstream.seen[-1]
    assert json.loads(seen.body) == {"note": f"mail {MASKED} today"}
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_octet_stream_chat_body_on_an_llm_route_is_415(gateway_server, e2e_upstream):
    subdomain = f"e2e-body-{next(_names)}"
    gateway = routed_gateway(
        gateway_server.post,
        subdomain=subdomain,
        target_dicts=[provider_target(e2e_upstream.port)],
        path="/v1/*",
        required_plugins=[masking()],
    )
    chat = {"model": "m", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]}
    before = len(e2e_upstream.seen)
    response = gateway_server.proxy(
        subdomain,
        "/v1/chat/completions",
        method="POST",
        data=json.dumps(chat),
        headers={
            "Authorization": f"Bearer {gateway.key}",
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 415
    assert response.json() == {
        "error": {
            "message": "Content-Type must be application/json",
            "type": "invalid_request_error",
            "param": None,
            "code": "unsupported_media_type",
        }
    }
    assert len(e2e_upstream.seen) == before
