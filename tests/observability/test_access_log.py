"""The JSON access log: one parseable line per proxied request and per admin write, no secret."""

from __future__ import annotations

import json

import pytest

from tests.observability.conftest import finished, lines

HOST = "api.localhost"
FIELDS = {
    "time",
    "type",
    "request_id",
    "gateway",
    "rule",
    "method",
    "path",
    "status",
    "bytes_in",
    "bytes_out",
    "total_ms",
    "upstream_ms",
    "client_ip",
    "api_key_id",
    "target",
    "verdicts",
}
UPSTREAM_SECRET = "upstream-credential-4711"
MASKED_LOOKING = "sk-live-0123456789abcdef"


def test_one_line_per_request_with_its_fields_and_no_secret(
    route, upstream, proxy_client, access_log_file
):
    gateway = route(
        upstream_extra={
            "credentials": {"header_name": "X-Upstream-Auth", "header_value": UPSTREAM_SECRET}
        },
        required_plugins=[
            {
                "name": "rate_limiter",
                "stage": "pre_request",
                "priority": 1,
                "settings": {"limits": {"per_key": {"limit": 3, "window": "1m"}}},
            }
        ],
    )
    start = len(lines(access_log_file))
    sent = [
        finished(
            proxy_client.post(
                f"/v1/things?token={MASKED_LOOKING}",
                b'{"secret": "%s"}' % MASKED_LOOKING.encode(),
                content_type="application/json",
                HTTP_HOST=HOST,
                HTTP_X_API_KEY=gateway.key,
                HTTP_X_REQUEST_ID=f"req-{i}",
            )
        )
        for i in range(4)
    ]
    assert [r.status_code for r in sent] == [200, 200, 200, 429]
    assert upstream.seen[-1].headers["X-Upstream-Auth"] == UPSTREAM_SECRET  # really injected
    logged = [line for line in lines(access_log_file)[start:] if line["type"] == "request"]
    assert [line["request_id"] for line in logged] == ["req-0", "req-1", "req-2", "req-3"]
    first, refused = logged[0], logged[3]
    assert set(first) >= FIELDS
    assert first["gateway"] == "api"
    assert first["rule"] == gateway.rule["id"]
    assert (first["method"], first["path"], first["status"]) == ("POST", "/v1/things", 200)
    assert first["bytes_in"] == len(b'{"secret": "%s"}' % MASKED_LOOKING.encode())
    assert first["bytes_out"] == len(sent[0].content_read) > 0
    assert first["total_ms"] >= first["upstream_ms"] > 0
    assert first["client_ip"] == "127.0.0.1"
    assert first["api_key_id"]
    assert first["target"] == f"{gateway.upstream['id']}:0"
    assert first["verdicts"] == ["rate_limiter:pre_request:continue"]
    assert (refused["status"], refused["upstream_ms"], refused["target"]) == (429, None, None)
    assert refused["verdicts"] == ["rate_limiter:pre_request:reject"]
    assert refused["findings"] == ["rate_limiter:per_key:blocked"]
    text = access_log_file.read_text()
    for secret in (gateway.key, UPSTREAM_SECRET, MASKED_LOOKING, "token="):
        assert secret not in text


def test_requests_refused_before_a_gateway_is_known_are_logged_too(
    proxy_client, access_log_file, db
):
    finished(proxy_client.get("/x", HTTP_HOST="nosuch.localhost"))
    (line,) = lines(access_log_file)
    assert (line["gateway"], line["rule"], line["status"], line["path"]) == (None, None, 404, "/x")


def test_admin_writes_are_logged_with_who_and_what_never_the_body(api, access_log_file):
    created = api.post(
        "/api/v1/gateways", {"name": "audited", "subdomain": "audited"}, format="json"
    ).json()
    upstream = api.post(
        f"/api/v1/gateways/{created['id']}/upstreams",
        {
            "name": "u",
            "targets": [
                {
                    "host": "127.0.0.1",
                    "port": 9,
                    "credentials": {"header_name": "X-Auth", "header_value": UPSTREAM_SECRET},
                }
            ],
        },
        format="json",
    )
    assert upstream.status_code == 201
    writes = [line for line in lines(access_log_file) if line["type"] == "admin_write"]
    assert [(w["user"], w["method"], w["path"], w["status"]) for w in writes] == [
        ("admin", "POST", "/api/v1/gateways", 201),
        ("admin", "POST", f"/api/v1/gateways/{created['id']}/upstreams", 201),
    ]
    assert writes[0]["object_id"] == created["id"]
    assert UPSTREAM_SECRET not in access_log_file.read_text()


@pytest.mark.parametrize("value", ["off", "false", "0"])
def test_the_log_can_be_switched_off(value, route, proxy_client, settings, capfd, monkeypatch):
    from gateway_project import env

    gateway = route()
    monkeypatch.chdir(settings.VAR_DIR)
    switched = env.read("GATEWAY_ACCESS_LOG", {"GATEWAY_ACCESS_LOG": value})
    settings.GATEWAY = {**settings.GATEWAY, "ACCESS_LOG": switched}
    capfd.readouterr()
    response = finished(proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key))
    assert response.status_code == 200
    assert '"type":"request"' not in capfd.readouterr().out
    assert not (settings.VAR_DIR / switched).exists()


def test_the_default_is_one_line_on_stdout(route, proxy_client, capfd):
    gateway = route()
    capfd.readouterr()
    finished(proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key))
    (line,) = [json.loads(text) for text in capfd.readouterr().out.splitlines()]
    assert (line["type"], line["gateway"], line["status"]) == ("request", "api", 200)


@pytest.mark.parametrize(
    "path",
    ["/caf\u00e9/\u2028/\x01", "/half-a-pair/\ud800", '/quote"/back\\slash'],
    ids=["unicode", "lone-surrogate", "json-specials"],
)
def test_any_path_gives_one_parseable_line(path, access_log_file):
    from observability.access_log import access_log

    access_log.write({"type": "request", "path": path, "status": 200})
    (line,) = access_log_file.read_bytes().splitlines()
    assert json.loads(line) == {"type": "request", "path": path, "status": 200}
