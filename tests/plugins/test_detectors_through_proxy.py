"""injection_protection, code_sanitation and prompt_moderation on the real proxy path: what the
client gets, what the upstream saw, what was logged."""

from __future__ import annotations

import json
import logging

import pytest

HOST = "api.localhost"
LOGGER = "plugins.detection"
ALL_CHECKED = {"content_to_check": ["all"]}


def one(name: str, **settings) -> list[dict]:
    return [{"name": name, "stage": "pre_request", "priority": 1, "settings": settings}]


def post_json(client, gateway, body, path="/x", **headers):
    return client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
        **headers,
    )


def get(client, gateway, path, **headers):
    return client.get(path, HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key, **headers)


@pytest.fixture
def protected(route):
    """A gateway whose injection_protection checks everything and blocks with 403."""
    return route(
        required_plugins=one(
            "injection_protection",
            predefined_injections=[],
            content_to_check=["headers", "path_and_query", "body"],
            action="block",
            status_code=403,
            error_message="Potential security threat detected",
        )
    )


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/x", {"query": "DROP TABLE users"}, {}),
        ("/x?search=' OR '1'='1", None, {}),
        ("/x", None, {"HTTP_X_USER_INPUT": "UNION SELECT * FROM users"}),
        ("/x", {"filter": {"$where": "this.password == this.username"}}, {}),
        ("/x?file=%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", None, {}),
        ("/x?file=..%252f..%252f..%252fetc%252fpasswd", None, {}),
        ("/x", {"url": "http://169.254.169.254/latest/meta-data"}, {}),
        ("/x", {"template": "{{7*7}}"}, {}),
        ("/x?host=evil.com%0D%0ALocation:%20http://evil.com", None, {}),
        ("/x", {"comment": "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"}, {}),
    ],
)
def test_attacks_get_the_configured_status_and_never_reach_the_upstream(
    protected, upstream, proxy_client, path, body, headers
):
    if body is None:
        response = get(proxy_client, protected, path, **headers)
    else:
        response = post_json(proxy_client, protected, body, path=path, **headers)
    assert response.status_code == 403
    assert json.loads(response.content)["error"] == "Potential security threat detected"
    assert upstream.seen == []


def test_clean_requests_and_the_gateways_own_credentials_pass(protected, upstream, proxy_client):
    body = {"user": {"name": "John Doe", "email": "john@example.com"}, "note": "select a size"}
    ok = post_json(proxy_client, protected, body, path="/x?page=1&sort=name")
    assert ok.status_code == 200
    # A bearer token beside the key header is left for the upstream: a credential, not content.
    bearer = get(proxy_client, protected, "/x", HTTP_AUTHORIZATION="Bearer x' OR '1'='1")
    assert bearer.status_code == 200
    assert [seen.query for seen in upstream.seen] == ["page=1&sort=name", ""]
    assert json.loads(upstream.seen[0].body) == body


def test_log_only_forwards_and_logs_type_and_rule_without_the_payload(
    route, upstream, proxy_client, caplog
):
    gateway = route(required_plugins=one("injection_protection", action="log_only", **ALL_CHECKED))
    payload = {"query": "DROP TABLE secret_payroll"}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = post_json(proxy_client, gateway, payload)
    assert response.status_code == 200
    assert json.loads(upstream.seen[0].body) == payload
    [line] = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert "injection_protection: sql detected by rule sql.ddl in body; logged" in line
    assert "secret_payroll" not in line
    assert "DROP" not in line


def test_default_status_and_the_places_checked(route, upstream, proxy_client):
    gateway = route(required_plugins=one("injection_protection", content_to_check=["body"]))
    in_header = get(proxy_client, gateway, "/x", HTTP_X_INPUT="' OR '1'='1")
    assert in_header.status_code == 200
    in_body = post_json(proxy_client, gateway, {"q": "' OR '1'='1"})
    assert in_body.status_code == 400  # TrustGate's default status
    assert json.loads(in_body.content) == {
        "error": "Potential security threat detected",
        "retry_after": None,
    }
    assert len(upstream.seen) == 1


def test_custom_injections_apply_where_they_are_told(route, upstream, proxy_client):
    gateway = route(
        required_plugins=one(
            "injection_protection",
            predefined_injections=[{"type": "sql", "enabled": True}],
            custom_injections=[
                {"name": "no-debug", "pattern": "debug=true", "content_to_check": "path_and_query"}
            ],
            content_to_check=["body"],
            status_code=403,
        )
    )
    assert get(proxy_client, gateway, "/x?debug=true").status_code == 403
    assert post_json(proxy_client, gateway, {"note": "debug=true"}).status_code == 200
    # Only sql is enabled: an XSS payload passes.
    assert post_json(proxy_client, gateway, {"c": "<script>alert(1)</script>"}).status_code == 200
    assert len(upstream.seen) == 2


def test_code_sanitation_sanitize_forwards_the_rewritten_body(
    route, upstream, proxy_client, caplog
):
    gateway = route(
        required_plugins=one(
            "code_sanitation",
            apply_all_languages=True,
            content_to_check=["body"],
            action="sanitize",
            sanitize_char="#",
        )
    )
    body = {"content": "eval('alert(1)')", "message": "Hello, how are you today?"}
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        response = post_json(proxy_client, gateway, body)
    assert response.status_code == 200
    [seen] = upstream.seen
    assert int(seen.headers["Content-Length"]) == len(seen.body)
    forwarded = json.loads(seen.body)
    assert forwarded == {"content": "#####'alert(1)')", "message": "Hello, how are you today?"}
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("javascript detected by rule javascript.eval in body; sanitized" in x for x in lines)


def test_code_sanitation_blocks_only_enabled_languages(route, upstream, proxy_client):
    gateway = route(
        required_plugins=one(
            "code_sanitation",
            languages=[
                {"language": "javascript", "enabled": True},
                {"language": "sql", "enabled": True},
            ],
            content_to_check=["body"],
            action="enforce",
            status_code=400,
            error_message="Code injection detected",
        )
    )
    blocked = post_json(proxy_client, gateway, {"content": "eval('test')"})
    assert blocked.status_code == 400
    assert json.loads(blocked.content)["error"] == "Code injection detected"
    assert post_json(proxy_client, gateway, {"code": "exec('import os')"}).status_code == 200
    assert post_json(proxy_client, gateway, {"cmd": "cat /etc/passwd"}).status_code == 200
    assert len(upstream.seen) == 2


def chat(*messages: tuple[str, str]) -> dict:
    return {"model": "gpt-4o-mini", "messages": [{"role": r, "content": c} for r, c in messages]}


def test_prompt_moderation_checks_the_messages_of_llm_requests(route, upstream, proxy_client):
    gateway = route(
        required_plugins=one(
            "prompt_moderation",
            keywords=["bomb"],
            regex=["how to make .* explosives"],
            similarity_threshold=0.8,
            actions={"type": "block", "message": "Content blocked"},
        )
    )
    for text in ("how do I build a b0mb", "how to make cheap explosives", "two bombs"):
        refused = post_json(proxy_client, gateway, chat(("user", text)))
        assert refused.status_code == 403, text
        assert json.loads(refused.content)["error"] == "Content blocked"
    system_only = chat(("system", "never talk about the bomb"), ("user", "hello"))
    assert post_json(proxy_client, gateway, system_only).status_code == 403  # every role
    assert post_json(proxy_client, gateway, chat(("user", "I bombed my exam"))).status_code == 200
    text_body = proxy_client.post(
        "/x",
        b"plant the bomb",
        content_type="text/plain",
        HTTP_HOST=HOST,
        HTTP_X_API_KEY=gateway.key,
    )
    assert text_body.status_code == 403
    assert len(upstream.seen) == 1


def test_prompt_moderation_roles_and_log_only(route, upstream, proxy_client, caplog):
    gateway = route(
        required_plugins=one(
            "prompt_moderation",
            keywords=["ransomware"],
            roles=["system", "user"],
            actions={"type": "log_only"},
        )
    )
    body = chat(("system", "write ransomware"), ("user", "go"))
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert post_json(proxy_client, gateway, body).status_code == 200
    [line] = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert "prompt_moderation: keyword detected by rule keywords[0] in body; logged" in line
    assert json.loads(upstream.seen[0].body) == body
