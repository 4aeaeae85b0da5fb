"""Build a routed gateway through the admin API (in-process client or a real HTTP server)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Post = Callable[[str, dict], tuple[int, Any]]


def in_process_post(api) -> Post:
    """A `post` over DRF's APIClient."""

    def post(path: str, payload: dict) -> tuple[int, Any]:
        response = api.post(path, payload, format="json")
        return response.status_code, response.json()

    return post


def http_post(session, base_url: str) -> Post:
    """A `post` over a requests.Session against a running server."""

    def post(path: str, payload: dict) -> tuple[int, Any]:
        response = session.post(base_url + path, json=payload, timeout=10)
        return response.status_code, response.json()

    return post


def created(post: Post, path: str, payload: dict) -> dict:
    status, body = post(path, payload)
    assert status == 201, (path, status, body)
    return body


def host_target(host: str, port: int, **extra: Any) -> dict:
    return {"host": host, "port": port, **extra}


def provider_target(port: int, model: str = "m", provider: str = "openai", **extra: Any) -> dict:
    """An LLM provider target whose base URL is a local server (a test upstream or mock)."""
    return {
        "provider": provider,
        "base_url": f"http://127.0.0.1:{port}",
        "models": [model],
        "default_model": model,
        "credentials": {"api_key": "sk-test"},
        **extra,
    }


@dataclass
class RoutedGateway:
    gateway: dict
    upstream: dict
    service: dict
    rule: dict
    key: str

    @property
    def id(self) -> str:
        return self.gateway["id"]


def routed_gateway(
    post: Post,
    *,
    subdomain: str,
    targets: list[tuple[str, int] | dict] = (),
    target_dicts: list[dict] | None = None,
    path: str = "/*",
    methods: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
    required_plugins: list[dict] | None = None,
    algorithm: str = "round-robin",
    health_checks: dict | None = None,
    upstream_extra: dict | None = None,
    upstream_fields: dict | None = None,
    service_extra: dict | None = None,
    gateway_extra: dict | None = None,
    **rule: Any,
) -> RoutedGateway:
    """Gateway → upstream(targets: (host, port) or whole target dicts, or `target_dicts`) →
    service → rule, plus an API key."""
    gateway = created(
        post,
        "/api/v1/gateways",
        {
            "name": subdomain,
            "subdomain": subdomain,
            "required_plugins": required_plugins or [],
            **(gateway_extra or {}),
        },
    )
    base = f"/api/v1/gateways/{gateway['id']}"
    upstream_payload = {
        "name": f"{subdomain}-upstream",
        "algorithm": algorithm,
        "targets": [
            target if isinstance(target, dict) else host_target(*target, **(upstream_extra or {}))
            for target in (target_dicts or targets)
        ],
    }
    if health_checks:
        upstream_payload["health_checks"] = health_checks
    upstream_payload.update(upstream_fields or {})
    upstream = created(post, f"{base}/upstreams", upstream_payload)
    service = created(
        post,
        f"{base}/services",
        {
            "name": f"{subdomain}-service",
            "type": "upstream",
            "upstream_id": upstream["id"],
            **(service_extra or {}),
        },
    )
    rule_body = created(
        post,
        f"{base}/rules",
        {
            "path": path,
            "methods": list(methods),
            "service_id": service["id"],
            **rule,
        },
    )
    key = created(post, f"{base}/keys", {"name": f"{subdomain}-key"})["key"]
    return RoutedGateway(gateway, upstream, service, rule_body, key)


def llm_chat(
    proxy_client,
    gateway,
    body: dict,
    path: str = "/v1/chat/completions",
    host: str = "llm.localhost",
    **meta: str,
):
    """An in-process JSON POST to an LLM route of `gateway`, with its key as a bearer token
    (`meta`: more headers, as `HTTP_<NAME>`)."""
    return proxy_client.post(
        path,
        json.dumps(body),
        content_type="application/json",
        HTTP_HOST=host,
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
        **meta,
    )
