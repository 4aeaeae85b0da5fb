"""Helpers of the plugin tests: request contexts, plugin instances, admin-API error fields."""

from __future__ import annotations

import uuid
from typing import Any

from requests.structures import CaseInsensitiveDict
from rest_framework.response import Response

from plugins.base import Plugin
from plugins.pipeline import PluginSpec, build_plugin
from plugins.registry import registry
from plugins.sdk.context import LLMCall, RequestContext


def make_request(
    *,
    method: str = "POST",
    path: str = "/v1/chat/completions",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    client_ip: str = "203.0.113.7",
    api_key_id: str | None = None,
    llm: LLMCall | None = None,
) -> RequestContext:
    """A proxied request as the proxy hands it to plugins (`llm`: routed to a provider)."""
    return RequestContext(
        request_id=uuid.uuid4().hex,
        method=method,
        path=path,
        query_string="",
        headers=CaseInsensitiveDict(headers or {}),
        body=body,
        client_ip=client_ip,
        gateway_id=str(uuid.uuid4()),
        api_key_id=api_key_id,
        llm=llm,
    )


def make_plugin(name: str, settings: dict[str, Any], stage: str = "pre_request") -> Plugin:
    """A plugin instance built the way compiled chains build them, with a fresh instance id,
    of `settings` as the admin API stores them (validated and normalised; ValidationError)."""
    settings = registry.get(name).validated_settings(settings)
    spec = PluginSpec(
        id=str(uuid.uuid4()),
        level="gateway",
        name=name,
        enabled=True,
        stage=stage,
        priority=1,
        parallel=False,
        settings=settings,
    )
    return build_plugin(spec)


def settings_errors(response: Response) -> dict[str, Any]:
    """Field errors of the first plugin's settings in a 400 answer."""
    assert response.status_code == 400, response.json()
    return response.json()["fields"]["required_plugins"]["0"]["settings"]
