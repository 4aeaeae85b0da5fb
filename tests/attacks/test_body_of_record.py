"""One body of record: plugins inspect exactly the bytes the gateway forwards, or the request is
refused (Content-Type on LLM routes, duplicate JSON keys, Range pieces, compressed bodies)."""

from __future__ import annotations

import gzip
import json
import zlib
from http.server import BaseHTTPRequestHandler

import pytest

from gateway_project.conf import gateway_settings
from gateways.models import Gateway
from proxy.streaming import MAX_BUFFERED_BODY
from tests.builders import in_process_post, provider_target, routed_gateway
from tests.upstream import BackgroundServer, SeenRequest

HOST = "api.localhost"
LLM_HOST = "llm.localhost"
EMAIL = "john.doe@example.com"
MASKED = "[MASKED_EMAIL]"
CHAT = {"model": "m", "messages": [{"role": "user", "content": f"write to {EMAIL}"}]}
ANSWER = f"the customer is {EMAIL}, call them".encode()


def masking(stage: str = "pre_request") -> dict:
    settings = {"predefined_entities": [{"entity": "email"}]}
    return {"name": "data_masking", "stage": stage, "priority": 1, "settings": settings}


def error_of(response):
    return json.loads(response.content)["error"]


@pytest.fixture
def llm_route(transactional_db, api, upstream):
    def build(**target):
        return routed_gateway(
            in_process_post(api),
            subdomain="llm",
            target_dicts=[provider_target(upstream.port, **target)],
            path="/v1/*",
            plugin_chain=[masking()],
        )

    return build


def llm_post(proxy_client, gateway, body: bytes, content_type: str | None, **extra):
    return proxy_client.generic(
        "POST",
        "/v1/chat/completions",
        body,
        content_type=content_type or "",
        HTTP_HOST=LLM_HOST,
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
        **extra,
    )


def post(
    proxy_client, gateway, body: bytes, content_type="application/json", path="/echo", **extra
):
    return proxy_client.generic(
        "POST",
        path,
        body,
        content_type=content_type,
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        **extra,
    )


# --- 1. Content-Type on LLM routes -------------------------------------------------------------

NOT_JSON_TYPES = [
    "application/octet-stream",
    "multipart/form-data; boundary=x",
    "image/png",
    "application/x-www-form-urlencoded",
    "text/plain",
]


@pytest.mark.parametrize("mode", ["translate", "passthrough"])
@pytest.mark.parametrize("content_type", NOT_JSON_TYPES)
def test_llm_route_refuses_a_chat_body_that_is_not_labelled_json(
    llm_route, upstream, proxy_client, content_type, mode
):
    gateway = llm_route(mode=mode)
    response = llm_post(proxy_client, gateway, json.dumps(CHAT).encode(), content_type)
    assert response.status_code == 415
    assert error_of(response) == {
        "message": "Content-Type must be application/json",
        "type": "invalid_request_error",
        "param": None,
        "code": "unsupported_media_type",
    }
    assert upstream.seen == []


@pytest.mark.parametrize("mode", ["translate", "passthrough"])
@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8"])
def test_llm_route_masks_a_json_chat_body(llm_route, upstream, proxy_client, content_type, mode):
    gateway = llm_route(mode=mode)
    response = llm_post(proxy_client, gateway, json.dumps(CHAT).encode(), content_type)
    assert response.status_code == 200
    sent = upstream.seen[-1].body
    assert EMAIL.encode() not in sent
    assert json.loads(sent)["messages"][0]["content"] == f"write to {MASKED}"


@pytest.mark.parametrize("mode", ["translate", "passthrough"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_llm_route_takes_a_body_without_content_type_as_json_for_the_plugins_too(
    llm_route, upstream, proxy_client, encoding, mode
):
    """What curl -d without a type and SDKs that forget it send: the front reads JSON (in any
    of the encodings json.loads detects), so masking reads the same JSON."""
    gateway = llm_route(mode=mode)
    response = llm_post(proxy_client, gateway, json.dumps(CHAT).encode(encoding), None)
    assert response.status_code == 200
    sent = upstream.seen[-1]
    assert json.loads(sent.body)["messages"][0]["content"] == f"write to {MASKED}"
    assert sent.headers["Content-Type"] == "application/json"


# --- 2. duplicate JSON keys -------------------------------------------------------------------

SMUGGLED = (
    b'{"model": "m", "messages": [{"role": "user", "content": "write to '
    + EMAIL.encode()
    + b'"}], "messages": [{"role": "user", "content": "hello"}]}'
)


def test_duplicate_keys_are_refused_on_a_masked_route(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    response = post(proxy_client, gateway, SMUGGLED)
    assert response.status_code == 400
    assert error_of(response) == 'duplicate key "messages" in JSON body'
    assert upstream.seen == []


@pytest.mark.parametrize("mode", ["translate", "passthrough"])
def test_duplicate_keys_are_refused_on_an_llm_route(llm_route, upstream, proxy_client, mode):
    gateway = llm_route(mode=mode)
    response = llm_post(proxy_client, gateway, SMUGGLED, "application/json")
    assert response.status_code == 400
    assert error_of(response)["message"] == 'duplicate key "messages" in JSON body'
    assert upstream.seen == []


def test_duplicate_keys_are_refused_at_any_depth_and_under_any_escape(
    route, upstream, proxy_client
):
    gateway = route(plugin_chain=[masking()])
    body = b'{"a": [{"to": "' + EMAIL.encode() + b'", "t\\u006f": "x"}]}'
    response = post(proxy_client, gateway, body)
    assert response.status_code == 400
    assert error_of(response) == 'duplicate key "to" in JSON body'
    assert upstream.seen == []


# --- 5. Range pieces of a masked answer --------------------------------------------------------


class RangeHandler(BaseHTTPRequestHandler):
    """Serves ANSWER as text, honouring `Range: bytes=a-b` with 206 (as file servers do)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append(
            SeenRequest("GET", self.path, "", dict(self.headers.items()), b"")  # type: ignore[arg-type]
        )
        body, status = ANSWER, 200
        asked = self.headers.get("Range", "")
        if asked.startswith("bytes="):
            first, _, last = asked[6:].partition("-")
            body, status = ANSWER[int(first) : int(last) + 1], 206
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{len(ANSWER)}")
        self.end_headers()
        self.wfile.write(body)


class RangeServer(BackgroundServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RangeHandler)
        self.seen: list[SeenRequest] = []


@pytest.fixture
def range_upstream():
    server = RangeServer().start()
    yield server
    server.stop()


def test_range_is_stripped_on_routes_that_inspect_answers(route, range_upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", range_upstream.port)], plugin_chain=[masking("post_response")]
    )
    response = proxy_client.get(
        "/file",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        HTTP_RANGE="bytes=0-30",
        HTTP_IF_RANGE='"v1"',
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body == f"the customer is {MASKED}, call them".encode()
    seen = {name.lower() for name in range_upstream.seen[-1].headers}
    assert "range" not in seen
    assert "if-range" not in seen


def test_range_passes_on_routes_without_answer_plugins(route, range_upstream, proxy_client):
    gateway = route(targets=[("127.0.0.1", range_upstream.port)], plugin_chain=[masking()])
    response = proxy_client.get(
        "/file", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_RANGE="bytes=0-2"
    )
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == b"the"


# --- 6. compressed request bodies --------------------------------------------------------------

JSON_BODY = json.dumps({"note": f"mail {EMAIL} today"}).encode()
FORM_BODY = f"note=mail+{EMAIL}+today".encode()
TEXT_BODY = f"mail {EMAIL} today".encode()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "deflate-raw": raw_deflate,  # what some clients send as deflate
}


@pytest.mark.parametrize("encoder", sorted(ENCODERS))
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", JSON_BODY),
        ("application/x-www-form-urlencoded", FORM_BODY),
        ("text/plain", TEXT_BODY),
        ("", TEXT_BODY),
    ],
    ids=["json", "form", "text", "untyped"],
)
def test_a_compressed_body_is_decoded_masked_and_forwarded_decoded(
    route, upstream, proxy_client, encoder, content_type, body
):
    gateway = route(plugin_chain=[masking()])
    encoding = encoder.removesuffix("-raw")
    response = post(
        proxy_client,
        gateway,
        ENCODERS[encoder](body),
        content_type,
        HTTP_CONTENT_ENCODING=encoding.upper(),
    )
    assert response.status_code == 200
    seen = upstream.seen[-1]
    assert EMAIL.encode() not in seen.body
    assert MASKED.encode() in seen.body or b"%5BMASKED_EMAIL%5D" in seen.body
    assert "Content-Encoding" not in seen.headers
    assert seen.headers["Content-Length"] == str(len(seen.body))


def test_a_compressed_body_without_plugins_is_forwarded_decoded(route, upstream, proxy_client):
    gateway = route()
    response = post(proxy_client, gateway, gzip.compress(JSON_BODY), HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert upstream.seen[-1].body == JSON_BODY
    assert "Content-Encoding" not in upstream.seen[-1].headers


@pytest.mark.parametrize(
    ("encoding", "named"),
    [("br", "br"), ("zstd", "zstd"), ("compress", "compress"), ("gzip, gzip", "gzip, gzip")],
)
def test_encodings_the_gateway_cannot_decode_are_415(
    route, upstream, proxy_client, encoding, named
):
    gateway = route(plugin_chain=[masking()])
    response = post(proxy_client, gateway, b"\x8b\x00compressed", HTTP_CONTENT_ENCODING=encoding)
    assert response.status_code == 415
    assert error_of(response) == f"unsupported Content-Encoding: {named}"
    assert upstream.seen == []


def test_a_decompression_bomb_is_413(route, upstream, proxy_client):
    gateway = route(plugin_chain=[masking()])
    bomb = gzip.compress(b"a" * (gateway_settings.MAX_BODY_BYTES + 1))
    assert len(bomb) < gateway_settings.MAX_BODY_BYTES // 100
    response = post(proxy_client, gateway, bomb, "text/plain", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413
    assert upstream.seen == []


@pytest.mark.parametrize(
    "body",
    [b"not gzip at all", gzip.compress(JSON_BODY)[:-12], gzip.compress(JSON_BODY) + b"x"],
    ids=["garbage", "truncated", "trailing-bytes"],
)
def test_a_broken_compressed_body_is_400(route, upstream, proxy_client, body):
    gateway = route(plugin_chain=[masking()])
    response = post(proxy_client, gateway, body, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert error_of(response) == "request body is not valid gzip"
    assert upstream.seen == []


# --- 6. compressed answers on routes with answer plugins ---------------------------------------


class CompressingHandler(RangeHandler):
    """Answers ANSWER compressed with the encoding in the path, whatever the client accepts."""

    def do_GET(self) -> None:
        self.server.seen.append(
            SeenRequest("GET", self.path, "", dict(self.headers.items()), b"")  # type: ignore[arg-type]
        )
        encoding = self.path.strip("/")
        body = b"\x1b\x00raw-brotli"
        if encoding == "gzip":
            body = gzip.compress(ANSWER)
        elif encoding == "bomb":
            encoding, body = "gzip", gzip.compress(b"a" * (MAX_BUFFERED_BODY + 1))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def compressing_upstream():
    server = RangeServer()
    server.RequestHandlerClass = CompressingHandler
    server.start()
    yield server
    server.stop()


def test_answers_to_inspect_are_asked_for_uncompressed(route, range_upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", range_upstream.port)], plugin_chain=[masking("post_response")]
    )
    response = proxy_client.get(
        "/file", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_ACCEPT_ENCODING="gzip, br"
    )
    assert response.status_code == 200
    assert range_upstream.seen[-1].headers["Accept-Encoding"] == "identity"


def test_a_gzip_answer_is_masked_decoded(route, compressing_upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", compressing_upstream.port)],
        plugin_chain=[masking("post_response")],
    )
    response = proxy_client.get("/gzip", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200
    assert response.content == f"the customer is {MASKED}, call them".encode()
    assert not response.has_header("Content-Encoding")


def test_an_answer_in_an_encoding_the_gateway_cannot_read_is_502(
    route, compressing_upstream, proxy_client
):
    gateway = route(
        targets=[("127.0.0.1", compressing_upstream.port)],
        plugin_chain=[masking("post_response")],
    )
    response = proxy_client.get("/br", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 502
    assert error_of(response) == "upstream answered in an encoding the gateway cannot read: br"


def test_a_gzip_bomb_answer_is_502_not_inflated_whole(route, compressing_upstream, proxy_client):
    gateway = route(
        targets=[("127.0.0.1", compressing_upstream.port)],
        plugin_chain=[masking("post_response")],
    )
    response = proxy_client.get("/bomb", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 502
    assert error_of(response) == f"upstream answer larger than {MAX_BUFFERED_BODY} bytes decoded"


def test_chunk_hooks_read_a_gzip_stream_decoded(sample_plugins, route, upstream, proxy_client):
    """A streamed gzip answer: a chunk hook sees (and rewrites) plain bytes, never the
    compressed ones the client would inflate past it."""
    gateway = route(plugin_chain=[{"name": "shout", "stage": "post_response", "priority": 1}])
    script = {
        "chunks": ["mail john.", "doe@example.com"],
        "content_type": "text/plain",
        "gzip": True,
    }
    response = post(proxy_client, gateway, json.dumps(script).encode(), path="/scripted")
    assert response.status_code == 200
    assert not response.has_header("Content-Encoding")
    assert b"".join(response.streaming_content) == b"MAIL JOHN.DOE@EXAMPLE.COM"


# --- 2. duplicate keys on the admin plane too ---------------------------------------------------


def test_admin_api_refuses_duplicate_keys(transactional_db, admin_token, proxy_client):
    body = b'{"name": "gw", "subdomain": "gw", "subdomain": "other"}'
    response = proxy_client.post(
        "/api/v1/gateways",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {admin_token}",
    )
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": "invalid JSON payload"}
    assert Gateway.objects.count() == 0
