"""Replays of the attacks of issue 15 on the proxy path, in-process and through real gunicorn."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from keys.models import ApiKey
from plugins.models import PluginConfig
from tests.builders import created, in_process_post, provider_target, routed_gateway
from tests.e2e.server import GatewayServer
from tests.raw_http import chunked, raw_exchange, request_head
from tests.upstream import UpstreamServer

HOST = "api.localhost"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def split_gateway(post, *, subdomain: str, port: int, **rule):
    """A public rule `/public/*` and a keyed rule `/private/*` on one upstream."""
    gateway = routed_gateway(
        post,
        subdomain=subdomain,
        targets=[("127.0.0.1", port)],
        path="/public/*",
        public=True,
        **rule,
    )
    created(
        post,
        f"/api/v1/gateways/{gateway.id}/rules",
        {"path": "/private/*", "methods": ALL_METHODS, "service_id": gateway.service["id"]},
    )
    return gateway


@pytest.fixture
def split(transactional_db, api, upstream):
    return split_gateway(in_process_post(api), subdomain="api", port=upstream.port)


def error_of(response) -> str:
    return json.loads(response.content)["error"]


# --- 1. dot segments -------------------------------------------------------------------------

CLIMBS_TO_PRIVATE = [
    "/public/../private/secret",
    "/public/%2e%2e/private/secret",
    "/public/%2E%2E/private/secret",
    "/public/.%2e/private/secret",
    "/public/%2e./private/secret",
    "/public/./../private/secret",
    "/public/x/../../private/secret",
]
REFUSED = [
    "/public/..%2fprivate/secret",
    "/public/..%2Fprivate/secret",
    "/public/%2e%2e%2fprivate/secret",
    "/public/..%5cprivate/secret",
    "/public/..\\private/secret",
    "/public/..;/private/secret",
    "/public/%00/x",
    "/public/../../private/secret",
    "/public/%zz",
]


@pytest.mark.parametrize("via", ["path_info", "raw_uri"])
@pytest.mark.parametrize("path", CLIMBS_TO_PRIVATE)
def test_dot_segments_reach_the_keyed_rule_and_need_its_key(
    split, upstream, proxy_client, path, via
):
    extra = {"RAW_URI": path} if via == "raw_uri" else {}
    response = proxy_client.get(path, HTTP_HOST=HOST, **extra)
    assert (response.status_code, error_of(response)) == (401, "API key required")
    assert upstream.seen == []
    keyed = proxy_client.get(path, HTTP_HOST=HOST, HTTP_X_API_KEY=split.key, **extra)
    assert keyed.status_code == 200
    assert upstream.seen[-1].path == "/private/secret"


@pytest.mark.parametrize("path", REFUSED)
def test_paths_that_cannot_be_normalised_safely_are_400(split, upstream, proxy_client, path):
    response = proxy_client.get(path, HTTP_HOST=HOST, RAW_URI=path, HTTP_X_API_KEY=split.key)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert error_of(response)
    assert upstream.seen == []


def test_strip_path_cannot_leave_the_target_base_path(route, upstream, proxy_client):
    gateway = route(path="/api/*", strip_path=True, upstream_extra={"path": "/v1"})
    for path in ("/api/../admin", "/api/%2e%2e/admin", "/api/x/../../admin"):
        response = proxy_client.get(path, HTTP_HOST=HOST, RAW_URI=path, HTTP_X_API_KEY=gateway.key)
        assert response.status_code == 404  # normalised to /admin: no rule
    inside = "/api/x/../items"
    proxy_client.get(inside, HTTP_HOST=HOST, RAW_URI=inside, HTTP_X_API_KEY=gateway.key)
    assert [seen.path for seen in upstream.seen] == ["/v1/items"]


def test_the_upstream_receives_the_matched_path_byte_for_byte(route, upstream, proxy_client):
    gateway = route(path="/files/*")
    sent = "/files/a%2fb/%7Euser/x%20y/caf%C3%A9"
    response = proxy_client.get(sent, HTTP_HOST=HOST, RAW_URI=sent, HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200
    assert upstream.seen[-1].path == "/files/a%2Fb/~user/x%20y/caf%C3%A9"


# --- 4. deep JSON ----------------------------------------------------------------------------


def deep_json(levels: int) -> bytes:
    return b'{"messages": ' + b"[" * levels + b"]" * levels + b"}"


def test_deep_json_cannot_reopen_an_exhausted_token_budget(route, upstream, proxy_client):
    limiter = {"name": "token_rate_limiter", "stage": "pre_request", "priority": 1}
    limiter["settings"] = {"limit": 1000, "window": "1m"}
    gateway = route(targets=[provider_target(upstream.port)], required_plugins=[limiter])
    chat = json.dumps({"max_tokens": 900, "messages": [{"role": "user", "content": "hi"}]})

    def post(body):
        return proxy_client.post(
            "/v1/chat/completions",
            body,
            "application/json",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
        )

    assert post(chat).status_code == 200
    assert post(chat).status_code == 429
    deep = post(deep_json(2000))
    assert (deep.status_code, error_of(deep)["message"]) == (400, "request body too deeply nested")
    # 64 levels, the limit: not a chat request (the front refuses it before any plugin runs)
    assert post(deep_json(63)).status_code == 400


def test_deep_json_to_a_provider_target_is_400_not_500(route, api, upstream, proxy_client):
    gateway = route(path="/v1/*")
    url = f"/api/v1/gateways/{gateway.id}/upstreams/{gateway.upstream['id']}"
    target = {
        "provider": "openai",
        "base_url": f"http://127.0.0.1:{upstream.port}",
        "models": ["m"],
        "default_model": "m",
        "credentials": {"api_key": "sk-upstream"},
    }
    assert api.patch(url, {"targets": [target]}, format="json").status_code == 200
    response = proxy_client.post(
        "/v1/chat/completions",
        deep_json(2000),
        "application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert (response.status_code, error_of(response)["message"]) == (
        400,
        "request body too deeply nested",
    )
    assert upstream.seen == []


LIMITERS = {
    "rate_limiter": (
        {"limits": {"global": {"limit": 100, "window": "1m"}}},
        "{{rl:{id}}}:global:all",
    ),
    "token_rate_limiter": ({"limit": 1000, "window": "1m"}, "{{trl:{id}:key:{key}}}:log"),
}


@pytest.mark.parametrize("name", list(LIMITERS))
def test_a_limiter_error_other_than_redis_down_refuses(
    route, upstream, proxy_client, redis_conn, name
):
    settings, record = LIMITERS[name]
    gateway = route(
        targets=[provider_target(upstream.port)],  # a provider route: token limits apply
        required_plugins=[{"name": name, "stage": "pre_request", "settings": settings}],
    )
    plugin_id = PluginConfig.objects.get(gateway_id=gateway.id).id
    key_id = ApiKey.objects.get(gateway_id=gateway.id).id
    poisoned = record.format(id=plugin_id, key=key_id)
    redis_conn.set(poisoned, "not what the script keeps there")  # WRONGTYPE in the script
    try:
        response = proxy_client.post(
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "hi"}]}',
            "application/json",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
        )
    finally:
        redis_conn.delete(poisoned)
    # fail_open (the limiters' default) covers Redis being unreachable, not a failed decision
    assert (response.status_code, error_of(response)["message"]) == (500, "plugin execution failed")


# --- 6. Host forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["api.localhost.", "API.LocalHost", "api.localhost.:8080", "api\u3002localhost"]
)
@pytest.mark.parametrize("path", ["/api/v1/gateways", "/admin/", "/api/v1/schema"])
def test_gateway_host_forms_never_reach_the_admin_plane(
    route, proxy_client, admin_token, host, path
):
    route(path="/only")
    response = proxy_client.get(path, HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    assert (response.status_code, error_of(response)) == (404, "no matching rule found")


def test_a_trailing_dot_host_is_proxied_to_its_gateway(route, upstream, proxy_client):
    gateway = route()
    response = proxy_client.get("/x", HTTP_HOST="api.localhost.", HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 200
    assert upstream.seen[-1].path == "/x"


@pytest.mark.parametrize("host", ["api..localhost", ".localhost", "api.localhost.."])
def test_malformed_hosts_are_400(route, proxy_client, admin_token, host):
    response = proxy_client.get(
        "/api/v1/gateways", HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {admin_token}"
    )
    assert (response.status_code, error_of(response)) == (400, "invalid Host header")


# --- 7. every key header stripped ------------------------------------------------------------


def test_the_key_never_reaches_the_upstream_in_any_header(route, upstream, proxy_client):
    gateway = route()
    response = proxy_client.get(
        "/x",
        HTTP_HOST=HOST,
        HTTP_X_TG_API_KEY=gateway.key,
        HTTP_X_API_KEY=gateway.key,
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
    )
    assert response.status_code == 200
    seen = upstream.seen[-1].headers
    assert gateway.key not in json.dumps(dict(seen))
    assert not {"x-tg-api-key", "x-api-key", "authorization"} & {n.lower() for n in seen}


def test_keys_are_stripped_on_public_rules(route, upstream, proxy_client):
    gateway = route(public=True)
    proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_X_TG_API_KEY="other")
    sent = {name.lower() for name in upstream.seen[-1].headers}
    assert not {"x-tg-api-key", "x-api-key"} & sent


def test_a_second_gateway_key_as_bearer_is_stripped_other_bearers_pass(
    route, api, upstream, proxy_client
):
    gateway = route()
    second = api.post(f"/api/v1/gateways/{gateway.id}/keys", {"name": "b"}, format="json")
    second_key = second.json()["key"]
    headers = {"HTTP_HOST": HOST, "HTTP_X_API_KEY": gateway.key}
    proxy_client.get("/x", HTTP_AUTHORIZATION=f"Bearer {second_key}", **headers)
    assert "Authorization" not in upstream.seen[-1].headers
    proxy_client.get("/x", HTTP_AUTHORIZATION="Bearer upstream-token", **headers)
    assert upstream.seen[-1].headers["Authorization"] == "Bearer upstream-token"


# --- 13. per_user identity -------------------------------------------------------------------


def per_user_limiter(**settings) -> dict:
    return {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_user": {"limit": 1, "window": "1m"}}, **settings},
    }


def test_rotating_x_user_id_does_not_dodge_per_user(route, proxy_client):
    gateway = route(required_plugins=[per_user_limiter()])
    statuses = [
        proxy_client.get(
            "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_X_USER_ID=f"u{i}"
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 429, 429]


def test_per_user_without_a_key_counts_the_client_ip(route, proxy_client):
    route(public=True, required_plugins=[per_user_limiter()])
    statuses = [
        proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_USER_ID=f"u{i}").status_code for i in range(2)
    ]
    assert statuses == [200, 429]


def test_a_trusted_user_header_counts_per_user(route, proxy_client):
    gateway = route(required_plugins=[per_user_limiter(user_header="X-Auth-User")])

    def call(user):
        return proxy_client.get(
            "/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, HTTP_X_AUTH_USER=user
        ).status_code

    assert [call("alice"), call("alice"), call("bob")] == [200, 429, 200]


def test_token_budget_per_user_ignores_client_user_headers(route, upstream, proxy_client):
    limiter = {"name": "token_rate_limiter", "stage": "pre_request", "priority": 1}
    limiter["settings"] = {"limit": 1000, "window": "1m", "identifier": "user"}
    gateway = route(targets=[provider_target(upstream.port)], required_plugins=[limiter])
    chat = json.dumps({"max_tokens": 900, "messages": [{"role": "user", "content": "hi"}]})
    statuses = [
        proxy_client.post(
            "/v1/chat/completions",
            chat,
            "application/json",
            HTTP_HOST=HOST,
            HTTP_X_API_KEY=gateway.key,
            HTTP_X_USER_ID=f"u{i}",
        ).status_code
        for i in range(2)
    ]
    assert statuses == [200, 429]


# --- through real gunicorn: raw targets, chunked bodies, slow bodies -------------------------

BODY_READ_TIMEOUT = 1.0
MAX_BODY_BYTES = 4096
KEEPALIVE = 2  # gunicorn's keepalive also bounds the wait for a request head (gevent workers)


@pytest.fixture(scope="module")
def attack_upstream():
    server = UpstreamServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hardened_server(tmp_path_factory):
    server = GatewayServer(
        tmp_path_factory.mktemp("attacks"),
        os.environ["TEST_REDIS_URL"],
        workers=1,
        GATEWAY_BODY_READ_TIMEOUT=str(BODY_READ_TIMEOUT),
        GATEWAY_MAX_BODY_BYTES=str(MAX_BODY_BYTES),
        GUNICORN_CMD_ARGS=f"--keep-alive {KEEPALIVE}",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def e2e_split(hardened_server, attack_upstream):
    return split_gateway(hardened_server.post, subdomain="e2e-split", port=attack_upstream.port)


def send(server, method, target, host, headers=None, body=b""):
    return raw_exchange(server.port, request_head(method, target, host, headers) + body)


@pytest.mark.e2e
@pytest.mark.parametrize("path", CLIMBS_TO_PRIVATE)
def test_e2e_raw_dot_segments_need_the_keyed_rules_key(
    hardened_server, e2e_split, attack_upstream, path
):
    before = len(attack_upstream.seen)
    response = send(hardened_server, "GET", path, "e2e-split.localhost")
    assert (response.status, response.json()) == (401, {"error": "API key required"})
    assert len(attack_upstream.seen) == before
    keyed = send(hardened_server, "GET", path, "e2e-split.localhost", {"X-API-Key": e2e_split.key})
    assert keyed.status == 200
    assert attack_upstream.seen[-1].path == "/private/secret"


@pytest.mark.e2e
@pytest.mark.parametrize("path", [p for p in REFUSED if p != "/public/%zz"])
def test_e2e_raw_unsafe_paths_are_400(hardened_server, e2e_split, attack_upstream, path):
    before = len(attack_upstream.seen)
    response = send(
        hardened_server, "GET", path, "e2e-split.localhost", {"X-API-Key": e2e_split.key}
    )
    assert response.status == 400
    assert response.headers["content-type"] == "application/json"
    assert len(attack_upstream.seen) == before


@pytest.mark.e2e
def test_e2e_trailing_dot_host_is_proxied_not_admin(hardened_server, e2e_split):
    token = hardened_server.admin.headers["Authorization"]
    for host in ("e2e-split.localhost.", "E2E-SPLIT.LOCALHOST"):
        response = send(hardened_server, "GET", "/api/v1/gateways", host, {"Authorization": token})
        assert (response.status, response.json()) == (404, {"error": "no matching rule found"})


@pytest.mark.e2e
def test_e2e_chunked_body_reaches_the_upstream(hardened_server, e2e_split, attack_upstream):
    body = b'{"hello": "chunked world"}' * 10
    response = send(
        hardened_server,
        "POST",
        "/private/echo",
        "e2e-split.localhost",
        {"X-API-Key": e2e_split.key, "Transfer-Encoding": "chunked"},
        chunked(body),
    )
    assert response.status == 200
    assert attack_upstream.seen[-1].body == body


@pytest.mark.e2e
def test_e2e_chunked_body_over_the_limit_is_413(hardened_server, e2e_split, attack_upstream):
    before = len(attack_upstream.seen)
    response = send(
        hardened_server,
        "POST",
        "/private/echo",
        "e2e-split.localhost",
        {"X-API-Key": e2e_split.key, "Transfer-Encoding": "chunked"},
        chunked(b"x" * (MAX_BODY_BYTES + 1), size=1000),
    )
    assert response.status == 413
    assert response.json() == {"error": f"request body larger than {MAX_BODY_BYTES} bytes"}
    assert len(attack_upstream.seen) == before


@pytest.mark.e2e
def test_e2e_chunked_body_meets_the_request_size_limiter(hardened_server, attack_upstream):
    size_limiter = {"name": "request_size_limiter", "stage": "pre_request", "priority": 1}
    size_limiter["settings"] = {"allowed_payload_size": 100, "size_unit": "bytes"}
    gateway = routed_gateway(
        hardened_server.post,
        subdomain="e2e-size",
        targets=[("127.0.0.1", attack_upstream.port)],
        required_plugins=[size_limiter],
    )
    headers = {"X-API-Key": gateway.key, "Transfer-Encoding": "chunked"}
    host = "e2e-size.localhost"
    small = send(hardened_server, "POST", "/x", host, headers, chunked(b"s" * 100))
    large = send(hardened_server, "POST", "/x", host, headers, chunked(b"l" * 101))
    assert (small.status, large.status) == (200, 413)
    assert attack_upstream.seen[-1].body == b"s" * 100
    assert attack_upstream.seen[-1].headers["Content-Length"] == "100"


@pytest.mark.e2e
def test_e2e_chunked_body_has_no_declared_length(hardened_server, attack_upstream):
    size_limiter = {"name": "request_size_limiter", "stage": "pre_request", "priority": 1}
    size_limiter["settings"] = {"allowed_payload_size": 1, "require_content_length": True}
    gateway = routed_gateway(
        hardened_server.post,
        subdomain="e2e-length",
        targets=[("127.0.0.1", attack_upstream.port)],
        required_plugins=[size_limiter],
    )
    headers = {"X-API-Key": gateway.key, "Transfer-Encoding": "chunked"}
    response = send(hardened_server, "POST", "/x", "e2e-length.localhost", headers, chunked(b"c"))
    assert (response.status, response.json()["error"]) == (411, "Content-Length header is required")


@pytest.mark.e2e
def test_e2e_chunked_body_reaches_the_admin_api(hardened_server):
    payload = json.dumps({"name": "chunked", "subdomain": "e2e-chunked"}).encode()
    response = send(
        hardened_server,
        "POST",
        "/api/v1/gateways",
        "localhost",
        {
            "Authorization": hardened_server.admin.headers["Authorization"],
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        chunked(payload),
    )
    assert response.status == 201, response.body
    assert response.json()["subdomain"] == "e2e-chunked"


@pytest.mark.e2e
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_e2e_a_body_that_never_arrives_is_408(hardened_server, e2e_split, attack_upstream, framing):
    headers = {"X-API-Key": e2e_split.key}
    if framing == "chunked":
        headers["Transfer-Encoding"] = "chunked"
        partial = b"64\r\n" + b"x" * 10
    else:
        headers["Content-Length"] = "100"
        partial = b"x" * 10
    before = len(attack_upstream.seen)
    started = time.monotonic()
    response = send(hardened_server, "POST", "/private/x", "e2e-split.localhost", headers, partial)
    waited = time.monotonic() - started
    assert (response.status, response.json()) == (408, {"error": "request body timed out"})
    assert BODY_READ_TIMEOUT <= waited < BODY_READ_TIMEOUT + 5
    assert len(attack_upstream.seen) == before


@pytest.mark.e2e
def test_e2e_an_admin_body_that_never_arrives_is_408(hardened_server):
    headers = {
        "Authorization": hardened_server.admin.headers["Authorization"],
        "Content-Type": "application/json",
        "Content-Length": "100",
    }
    response = send(hardened_server, "POST", "/api/v1/gateways", "localhost", headers, b'{"na')
    assert (response.status, response.json()) == (408, {"error": "request body timed out"})


@pytest.mark.e2e
@pytest.mark.parametrize("sent", [b"", b"GET /private/x HTTP/1.1\r\nHost: e2e-split.loc"])
def test_e2e_idle_and_partial_head_connections_close_after_keepalive(hardened_server, sent):
    with socket.create_connection(("127.0.0.1", hardened_server.port), timeout=10) as sock:
        sock.sendall(sent)
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed without an answer
        waited = time.monotonic() - started
    assert KEEPALIVE - 0.5 <= waited < KEEPALIVE + 3
