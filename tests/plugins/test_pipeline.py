"""The plugin pipeline through the proxy: order, stages, concurrency, failures, body hooks."""

from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from plugins.pipeline import EMPTY_CHAIN, PRE_AUTH, PluginSpec, compile_chain, run_stage
from plugins.registry import registry
from plugins.sdk.context import PluginRejection, PluginResponse
from tests.plugins.helpers import make_request

HOST = "api.localhost"


def plugin(name: str, stage: str = "pre_request", priority: int = 0, **settings) -> dict:
    parallel = settings.pop("parallel", False)
    return {
        "name": name,
        "stage": stage,
        "priority": priority,
        "parallel": parallel,
        "settings": settings,
    }


def get(client, gateway, path="/x"):
    return client.get(path, HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)


def test_gateway_plugins_run_first_then_rule_plugins_by_priority(
    sample_plugins, route, proxy_client
):
    gateway = route(
        required_plugins=[
            plugin("recorder", priority=5, label="g5"),
            plugin("recorder", "post_request", 1, label="g1"),
        ],
        plugin_chain=[
            plugin("recorder", priority=2, label="r2"),
            plugin("recorder", "pre_response", 0, label="r0"),
        ],
    )
    response = get(proxy_client, gateway)
    assert response.status_code == 200
    assert response["X-Order"] == "pre_request:g5,pre_request:r2,post_request:g1,pre_response:r0"


def test_disabled_plugins_do_not_run(sample_plugins, route, proxy_client):
    gateway = route(required_plugins=[{**plugin("crasher"), "enabled": False}])
    assert get(proxy_client, gateway).status_code == 200


def test_parallel_plugins_of_one_priority_run_concurrently(sample_plugins, route, proxy_client):
    gateway = route(
        required_plugins=[
            plugin(name, priority=1, label=f"p{i}", sleep=0.3, parallel=True)
            for i, name in enumerate(["recorder", "recorder_b", "recorder_c"])
        ]
    )
    started = time.perf_counter()
    response = get(proxy_client, gateway)
    elapsed = time.perf_counter() - started
    assert sorted(response["X-Order"].split(",")) == [
        "pre_request:p0",
        "pre_request:p1",
        "pre_request:p2",
    ]
    assert elapsed < 0.75  # three 0.3 s plugins, run one after another, would take 0.9 s


def test_crashing_plugin_is_a_500_unless_it_fails_open(
    sample_plugins, route, proxy_client, upstream
):
    closed = route(required_plugins=[plugin("crasher")])
    response = get(proxy_client, closed)
    assert response.status_code == 500
    assert json.loads(response.content) == {"error": "plugin execution failed"}
    assert upstream.seen == []
    opened = route(subdomain="open", required_plugins=[plugin("crasher", fail_open=True)])
    assert (
        proxy_client.get("/x", HTTP_HOST="open.localhost", HTTP_X_API_KEY=opened.key).status_code
        == 200
    )


def test_response_plugins_rewrite_whole_bodies(sample_plugins, route, proxy_client):
    gateway = route(plugin_chain=[plugin("shout", "post_response")])
    response = get(proxy_client, gateway, "/quiet")
    assert response["X-Shouted"] == "whole"
    body = json.loads(response.content)
    assert body["PATH"] == "/QUIET"
    assert int(response["Content-Length"]) == len(response.content)


def test_response_plugins_rewrite_streamed_bodies_chunk_by_chunk(
    sample_plugins, route, proxy_client
):
    gateway = route(plugin_chain=[plugin("shout", "post_response")])
    response = get(proxy_client, gateway, "/sse")
    assert response.streaming
    assert "X-Shouted" not in response
    assert b"".join(response.streaming_content).startswith(b'DATA: {"INDEX": 0')


def test_misconfigured_plugin_list_stops_start_up(settings):
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": ["plugins.nowhere.Missing"]}
    with pytest.raises(ImproperlyConfigured, match="cannot import"):
        registry.load()
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": ["gateway_project.conf.GatewaySettings"]}
    with pytest.raises(ImproperlyConfigured, match="not a Plugin subclass"):
        registry.load()
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()
    assert "rate_limiter" in registry.names()


def spec(name: str, priority: int, **settings) -> PluginSpec:
    return PluginSpec(
        id=f"{name}-{priority}",
        level="gateway",
        name=name,
        enabled=True,
        stage="pre_request",
        priority=priority,
        parallel=False,
        settings=settings,
    )


CORS_SETTINGS = {"allowed_origins": ["https://app.example.com"], "allowed_methods": ["POST"]}


def test_each_hook_decision_is_recorded_on_the_request():
    chain = compile_chain(
        [
            [
                spec("cors", 1, **CORS_SETTINGS),
                spec("request_size_limiter", 2, allowed_payload_size=10, size_unit="bytes"),
            ]
        ]
    )
    request = make_request(headers={"Origin": "https://app.example.com"}, body=b"x" * 11)
    with pytest.raises(PluginRejection):
        run_stage(chain, "pre_request", request)
    assert request.verdicts == [
        ("cors", "pre_request", "continue"),
        ("request_size_limiter", "pre_request", "reject"),
    ]


def test_the_pre_auth_step_holds_only_plugins_that_answer_before_authentication():
    chain = compile_chain(
        [
            [
                spec("request_size_limiter", 1, allowed_payload_size=10),
                spec("cors", 2, **CORS_SETTINGS),
            ]
        ]
    )
    assert [plugin.name for (plugin,) in chain.stages[PRE_AUTH]] == ["cors"]
    request = make_request(
        method="OPTIONS",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    with pytest.raises(PluginResponse) as answer:
        run_stage(chain, PRE_AUTH, request)
    assert answer.value.status == 204
    assert request.verdicts == [("cors", "pre_auth", "answer")]
    assert not EMPTY_CHAIN.has(PRE_AUTH)
