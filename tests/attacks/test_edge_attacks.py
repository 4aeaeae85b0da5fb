"""Replays of the content-security issue's edge items: client headers reaching third-party
providers, provider URLs that break (and leak through metrics, logs and the admin), and the
admin and ops edges (read-only fields, the admin body timeout, what `make run` exposes)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from prometheus_client import REGISTRY

from gateway_project import env
from gateway_project.binding import loopback_only
from observability.metrics import pending
from tests.builders import in_process_post, routed_gateway
from tests.e2e.server import GatewayServer
from tests.e2e.test_llm_front_e2e import provider_target
from tests.llm_mocks.server import LLMMockServer
from tests.observability.conftest import finished, lines
from tests.raw_http import raw_exchange, request_head

HOST = "edge.localhost"
HELLO = [{"role": "user", "content": "hello"}]
# What a client (an SDK, a browser, a proxy in front of the gateway) sends besides its request.
CLIENT_HEADERS = {
    "HTTP_COOKIE": "session=client-session",
    "HTTP_AUTHORIZATION": "Bearer client-own-secret",
    "HTTP_X_FORWARDED_FOR": "203.0.113.7",
    "HTTP_X_REAL_IP": "203.0.113.7",
    "HTTP_FORWARDED": "for=203.0.113.7",
    "HTTP_X_STAINLESS_LANG": "python",
    "HTTP_X_STAINLESS_OS": "Linux",
    "HTTP_X_CUSTOM_CLIENT": "internal-tenant-42",
    "HTTP_TRACEPARENT": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "HTTP_TRACESTATE": "vendor=1",
    "HTTP_X_REQUEST_ID": "client-request-1",
}
NEVER_FORWARDED = (
    "Cookie",
    "X-Forwarded-For",
    "X-Real-IP",
    "Forwarded",
    "X-Forwarded-Host",
    "X-Forwarded-Proto",
    "X-Stainless-Lang",
    "X-Stainless-OS",
    "X-Custom-Client",
    "X-TG-API-Key",
)
# (provider, mode, client path, body, the path the provider was asked on)
CALLS = (
    ("openai", "translate", "/v1/chat/completions", "chat", "/chat/completions"),
    ("openai", "passthrough", "/v1/chat/completions", "chat", "/chat/completions"),
    ("anthropic", "translate", "/v1/chat/completions", "chat", "/v1/messages"),
    ("anthropic", "passthrough", "/v1/messages", "messages", "/v1/messages"),
    ("google", "translate", "/v1/chat/completions", "chat", "/v1beta/models/"),
    ("google", "passthrough", "/v1beta/models/gemini-flash:generateContent", "gemini", "/v1beta"),
    ("bedrock", "translate", "/v1/chat/completions", "chat", "/converse"),
    ("bedrock", "passthrough", "/model/m/converse", "bedrock", "/converse"),
)
BODIES = {
    "chat": {"messages": HELLO},
    "messages": {"model": "claude-sonnet", "max_tokens": 10, "messages": HELLO},
    "gemini": {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]},
    "bedrock": {"messages": [{"role": "user", "content": [{"text": "hello"}]}]},
}


@pytest.fixture
def mock():
    server = LLMMockServer().start()
    yield server
    server.stop()


@pytest.fixture
def edge_gateway(transactional_db, api):
    def build(targets: list[dict], **rule):
        return routed_gateway(
            in_process_post(api), subdomain="edge", target_dicts=targets, path="/*", **rule
        )

    return build


def provider_call(proxy_client, gateway, mock, call: tuple, **headers):
    provider, mode, path, body, seen_path = call
    response = proxy_client.post(
        path,
        json.dumps(BODIES[body]),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_TG_API_KEY=gateway.key,
        HTTP_ACCEPT="application/json",
        **CLIENT_HEADERS,
        **headers,
    )
    finished(response)  # observed (metrics, access log) once read to its end
    return mock.last(seen_path)


# --- item 11: client headers reaching third-party providers ---


@pytest.mark.parametrize("call", CALLS, ids=lambda c: f"{c[0]}-{c[1]}")
def test_item11_client_headers_do_not_reach_provider_targets(
    mock, edge_gateway, proxy_client, call
):
    """Was: the client's cookie, its own Authorization, its IP (X-Forwarded-For), its SDK's
    X-Stainless-* and any custom header went to Anthropic, Google, AWS and OpenAI."""
    gateway = edge_gateway([{**provider_target(call[0], mock.url), "mode": call[1]}])
    seen = provider_call(proxy_client, gateway, mock, call).headers
    leaked = [name for name in NEVER_FORWARDED if name in seen]
    assert leaked == []
    assert seen.get("Authorization") != "Bearer client-own-secret"
    assert "203.0.113.7" not in json.dumps(dict(seen))
    # the allow-list: content type, tracing and the request id still go
    assert seen["Content-Type"].startswith("application/json")
    assert seen["traceparent"] == CLIENT_HEADERS["HTTP_TRACEPARENT"]
    assert seen["tracestate"] == "vendor=1"
    assert seen["X-Request-ID"]


@pytest.mark.parametrize(
    ("provider", "mode", "header", "value"),
    [
        ("anthropic", "passthrough", "anthropic-beta", "prompt-caching-2024-07-31"),
        ("anthropic", "passthrough", "anthropic-version", "2023-06-01"),
        ("openai", "translate", "OpenAI-Organization", "org-1"),
        ("openai", "passthrough", "OpenAI-Project", "proj-1"),
        ("bedrock", "translate", "X-Amzn-Bedrock-Trace", "ENABLED"),
    ],
)
def test_item11_the_providers_own_headers_still_reach_it(
    mock, edge_gateway, proxy_client, provider, mode, header, value
):
    gateway = edge_gateway([{**provider_target(provider, mock.url), "mode": mode}])
    call = next(c for c in CALLS if c[:2] == (provider, mode))
    meta = f"HTTP_{header.upper().replace('-', '_')}"
    seen = provider_call(proxy_client, gateway, mock, call, **{meta: value}).headers
    assert seen[header] == value


@pytest.mark.parametrize("mode", ["translate", "passthrough"])
def test_item11_forward_headers_opts_a_client_header_in(mock, edge_gateway, proxy_client, mode):
    target = {**provider_target("anthropic", mock.url), "mode": mode}
    gateway = edge_gateway([{**target, "forward_headers": ["X-Custom-Client"]}])
    call = next(c for c in CALLS if c[:2] == ("anthropic", mode))
    seen = provider_call(proxy_client, gateway, mock, call).headers
    assert seen["X-Custom-Client"] == "internal-tenant-42"
    assert "Cookie" not in seen
    assert "X-Stainless-Lang" not in seen


def test_item11_a_plain_upstream_still_gets_the_client_headers(route, upstream, proxy_client):
    gateway = route()
    proxy_client.get(
        "/x",
        HTTP_HOST="api.localhost",
        HTTP_X_API_KEY=gateway.key,
        HTTP_COOKIE="session=client-session",
        HTTP_X_CUSTOM_CLIENT="internal-tenant-42",
        HTTP_X_STAINLESS_LANG="python",
        REMOTE_ADDR="198.51.100.9",
    )
    seen = upstream.seen[-1].headers
    assert seen["Cookie"] == "session=client-session"
    assert seen["X-Custom-Client"] == "internal-tenant-42"
    assert seen["X-Stainless-Lang"] == "python"
    assert seen["X-Forwarded-For"] == "198.51.100.9"


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "Content-Length",
        "Connection",
        "Transfer-Encoding",
        "Authorization",
        "X-TG-API-Key",
        "X-API-Key",
        "X-Forwarded-For",
        "X-Real-IP",
        "Forwarded",
        "Bad Name",
        "",
    ],
)
def test_item11_forward_headers_refuses_what_must_never_be_forwarded(transactional_db, api, name):
    gateway = api.post("/api/v1/gateways", {"name": "fh", "subdomain": "fh"}, format="json")
    target = {**provider_target("anthropic", "http://127.0.0.1:9"), "forward_headers": [name]}
    response = api.post(
        f"/api/v1/gateways/{gateway.json()['id']}/upstreams",
        {"name": "u", "targets": [target]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "forward_headers" in response.json()["fields"]["targets"]["0"]


def test_item11_forward_headers_is_for_provider_targets_only(transactional_db, api):
    gateway = api.post("/api/v1/gateways", {"name": "fh", "subdomain": "fh"}, format="json")
    target = {"host": "127.0.0.1", "port": 9, "forward_headers": ["X-Custom-Client"]}
    response = api.post(
        f"/api/v1/gateways/{gateway.json()['id']}/upstreams",
        {"name": "u", "targets": [target]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "forward_headers" in response.json()["fields"]["targets"]["0"]


# --- item 12: provider URLs ---


@pytest.fixture
def access_log_file(settings, tmp_path):
    path = tmp_path / "access.log"
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": str(path)}
    return path


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.example.com/v1?x=1",
        "https://api.example.com/v1?",
        "https://user:pw@api.example.com",
        "https://token@api.example.com",
        "https://api.example.com/v1#frag",
        "ftp://api.example.com",
        "file:///etc/passwd",
        "javascript:alert(1)",
    ],
)
def test_item12_a_provider_base_url_with_query_userinfo_fragment_or_other_scheme_is_refused(
    transactional_db, api, base_url
):
    """Was: `?x=1` was accepted, broke every request's URL and showed in /metrics labels."""
    gateway = api.post("/api/v1/gateways", {"name": "bu", "subdomain": "bu"}, format="json")
    target = {**provider_target("openai", "http://127.0.0.1:9"), "base_url": base_url}
    response = api.post(
        f"/api/v1/gateways/{gateway.json()['id']}/upstreams",
        {"name": "u", "targets": [target]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "base_url" in response.json()["fields"]["targets"]["0"]


def test_item12_no_url_becomes_a_metric_label_or_an_access_log_field(
    mock, edge_gateway, proxy_client, access_log_file
):
    """Was: the target's base URL was the `target` label of two series and the log's `target`."""
    gateway = edge_gateway([provider_target("openai", f"{mock.url}/v1")])
    call = next(c for c in CALLS if c[:2] == ("openai", "translate"))
    provider_call(proxy_client, gateway, mock, call)
    pending.flush()
    labels = [
        (metric.name, sample.labels)
        for metric in REGISTRY.collect()
        for sample in metric.samples
        if metric.name.startswith("gateway_upstream")
    ]
    ours = [found for name, found in labels if found.get("upstream") == gateway.upstream["id"]]
    assert ours
    assert all(found["target"] == "0" for found in ours)
    values = [value for _, found in labels for value in found.values()]
    assert not [value for value in values if "://" in value or "127.0.0.1" in value]
    logged = [line for line in lines(access_log_file) if line["type"] == "request"]
    assert logged[-1]["target"] == f"{gateway.upstream['id']}:0"


# --- the admin plane's body timeout ---


@pytest.fixture(scope="module")
def slow_body_server(tmp_path_factory):
    server = GatewayServer(
        tmp_path_factory.mktemp("edges"),
        os.environ["TEST_REDIS_URL"],
        workers=1,
        GATEWAY_BODY_READ_TIMEOUT="0.5",
    ).start()
    yield server
    server.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("path", ["/api/v1/gateways", "/admin/login/"])
def test_admin_body_timeout_is_logged_as_408_not_as_a_500_traceback(slow_body_server, path):
    """Was: answered 408, but logged `ERROR django.request Internal Server Error` with a
    traceback, as if the gateway had failed."""
    log = slow_body_server.var_dir / "gunicorn.log"
    before = len(log.read_text())
    headers = {
        "Authorization": slow_body_server.admin.headers["Authorization"],
        "Content-Type": "application/json",
        "Content-Length": "100",
    }
    if path.startswith("/admin/"):  # a form post: Django's CSRF check reads the body
        token = "a" * 32
        headers |= {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={token}",
        }
    head = request_head("POST", path, "localhost", headers)
    response = raw_exchange(slow_body_server.port, head + b"userna")
    assert (response.status, response.json()) == (408, {"error": "request body timed out"})
    logged = log.read_text()[before:]
    assert "Internal Server Error" not in logged
    assert "Traceback" not in logged
    assert f"WARNING django.request Request Timeout: {path}" in logged


# --- read-only fields on create ---


@pytest.mark.parametrize(
    ("kind", "body", "read_only"),
    [
        ("gateways", {"name": "ro", "subdomain": "ro-new"}, {"id": "8d3e5c1e-0000-4000-8000-1"}),
        ("gateways", {"name": "ro", "subdomain": "ro-new"}, {"created_at": "2020-01-01T00:00Z"}),
        ("upstreams", {"name": "u", "targets": [{"host": "127.0.0.1"}]}, {"gateway_id": "x"}),
        ("upstreams", {"name": "u", "targets": [{"host": "127.0.0.1"}]}, {"updated_at": "x"}),
        ("keys", {"name": "k"}, {"prefix": "tg_live_chosen"}),
        ("keys", {"name": "k"}, {"rotated_at": "2020-01-01T00:00Z"}),
    ],
)
def test_read_only_fields_sent_on_create_are_refused_naming_them(
    transactional_db, api, kind, body, read_only
):
    """Was: dropped silently (a client believing it chose the id or the key prefix)."""
    gateway = api.post("/api/v1/gateways", {"name": "ro", "subdomain": "ro"}, format="json")
    base = "/api/v1" if kind == "gateways" else f"/api/v1/gateways/{gateway.json()['id']}"
    response = api.post(f"{base}/{kind}", {**body, **read_only}, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["fields"]) == set(read_only)


def test_a_body_read_with_get_can_still_be_put_back(transactional_db, api):
    created = api.post("/api/v1/gateways", {"name": "ro", "subdomain": "ro"}, format="json")
    url = f"/api/v1/gateways/{created.json()['id']}"
    shown = api.get(url).json()
    assert api.put(url, {**shown, "name": "renamed"}, format="json").status_code == 200


# --- `make run` and what a server bound beyond loopback exposes ---


@pytest.mark.parametrize(
    ("binds", "loopback"),
    [
        (["127.0.0.1:8080"], True),
        (["localhost:8080"], True),
        (["[::1]:8080"], True),
        (["unix:/tmp/gateway.sock"], True),
        (["0.0.0.0:8080"], False),
        (["[::]:8080"], False),
        ([":8080"], False),
        (["192.0.2.10:8080"], False),
        (["127.0.0.1:8080", "0.0.0.0:9090"], False),
        (["gateway.internal:8080"], False),
    ],
)
def test_which_binds_are_loopback_only(binds, loopback):
    assert loopback_only(binds) is loopback


def test_make_run_listens_on_loopback_unless_told_otherwise():
    """Was: `make run` listened on 0.0.0.0 with /metrics open and the API docs public."""
    default = make_dry_run()
    assert "GATEWAY_BIND=127.0.0.1:8080 " in default
    assert "GATEWAY_BIND=0.0.0.0:9000 " in make_dry_run("HOST=0.0.0.0", "PORT=9000")
    assert env.read("GATEWAY_BIND", {}) == "127.0.0.1:8080"


def test_make_run_prints_a_changepassword_command_that_works_as_printed():
    """Was: `python manage.py changepassword admin`, which fails outside the venv."""
    assert "(.venv/bin/python manage.py changepassword admin)" in make_dry_run()


def make_dry_run(*args: str) -> str:
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        ["make", "-n", "-W", "requirements.txt", "run", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.mark.e2e
def test_a_server_bound_beyond_loopback_without_a_metrics_token_refuses_to_start(tmp_path):
    server = GatewayServer(
        tmp_path, os.environ["TEST_REDIS_URL"], workers=1, GATEWAY_METRICS_TOKEN=""
    )
    server.env["GATEWAY_BIND"] = f"0.0.0.0:{server.port}"
    server.manage("migrate", "--noinput")
    process = server.launch()
    try:
        assert process.wait(timeout=30) != 0
    finally:
        server.stop()
    logged = (tmp_path / "gunicorn.log").read_text()
    assert "GATEWAY_METRICS_TOKEN" in logged
    assert "0.0.0.0" in logged


@pytest.mark.e2e
def test_a_server_bound_beyond_loopback_guards_metrics_and_the_api_docs(tmp_path):
    server = GatewayServer(
        tmp_path,
        os.environ["TEST_REDIS_URL"],
        workers=1,
        GATEWAY_METRICS_TOKEN="scrape-token",
        GATEWAY_PUBLIC_API_DOCS="",
    )
    server.env["GATEWAY_BIND"] = f"0.0.0.0:{server.port}"
    server.start()
    try:
        anonymous = requests.Session()
        for path in ("/metrics", "/api/v1/docs", "/api/v1/schema"):
            assert anonymous.get(server.base_url + path, timeout=10).status_code in (401, 403)
        assert server.admin.get(server.base_url + "/api/v1/docs", timeout=10).status_code == 200
        scraped = anonymous.get(
            server.base_url + "/metrics",
            headers={"Authorization": "Bearer scrape-token"},
            timeout=10,
        )
        assert scraped.status_code == 200
    finally:
        server.stop()
