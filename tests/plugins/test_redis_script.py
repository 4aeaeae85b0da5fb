"""RedisScriptPlugin against a real Redis: one script load, NOSCRIPT recovery, fail-open policy."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

from plugins.builtin.rate_limiter import RateLimiterPlugin
from plugins.builtin.redis_script import RedisScriptPlugin
from plugins.builtin.token_rate_limiter import TokenRateLimiterPlugin
from plugins.sdk.context import PluginRejection
from tests.plugins.helpers import make_plugin, make_request

COUNTER = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
BAD_INPUT = "return redis.error_reply('bad input')"
PER_IP = {"limits": {"per_ip": {"limit": 5, "window": "1m"}}}


def script_plugin_class(path: Path, source: str) -> type[RedisScriptPlugin]:
    path.write_text(source)

    class CounterPlugin(RedisScriptPlugin):
        name = "script_counter"
        script_path = path

    return CounterPlugin


def build(plugin_class: type[RedisScriptPlugin], **settings: object) -> RedisScriptPlugin:
    return plugin_class(
        instance_id=str(uuid.uuid4()),
        level="gateway",
        stage="pre_request",
        config=plugin_class.config_from(settings),
    )


def test_the_script_is_read_once_when_the_class_is_defined(tmp_path):
    plugin_class = script_plugin_class(tmp_path / "counter.lua", COUNTER)
    (tmp_path / "counter.lua").write_text(BAD_INPUT)
    key = f"test:{uuid.uuid4().hex}"
    assert build(plugin_class).run_script([key], [2]) == 2
    assert build(plugin_class).run_script([key], [3]) == 5


def test_a_flushed_script_cache_is_reloaded(tmp_path, redis_conn):
    plugin = build(script_plugin_class(tmp_path / "counter.lua", COUNTER))
    key = f"test:{uuid.uuid4().hex}"
    assert plugin.decide([key], [1]) == 1
    redis_conn.script_flush()  # the next EVALSHA answers NOSCRIPT
    assert plugin.decide([key], [1]) == 2


def test_bad_input_is_never_failed_open(tmp_path):
    plugin = build(script_plugin_class(tmp_path / "bad.lua", BAD_INPUT), fail_open=True)
    with pytest.raises(redis.ResponseError) as caught:
        plugin.decide(["test:bad"], [])
    assert plugin.fails_open_on("pre_request", caught.value) is False
    assert plugin.fails_open_on("post_response", caught.value) is True
    assert (
        build(plugin.__class__, fail_open=False).fails_open_on("post_response", caught.value)
        is False
    )


@pytest.mark.usefixtures("redis_down")
def test_unreachable_redis_fails_open_by_default(tmp_path, caplog):
    plugin = build(script_plugin_class(tmp_path / "counter.lua", COUNTER))
    with caplog.at_level("WARNING", logger="plugins.builtin.redis_script"):
        assert plugin.decide(["test:down"], [1]) is None
    assert "Redis unavailable, letting the request through" in caplog.text


@pytest.mark.usefixtures("redis_down")
def test_unreachable_redis_is_a_503_without_fail_open(tmp_path):
    plugin = build(script_plugin_class(tmp_path / "counter.lua", COUNTER), fail_open=False)
    with pytest.raises(PluginRejection) as caught:
        plugin.decide(["test:down"], [1])
    assert (caught.value.status, caught.value.message) == (503, "script counter unavailable")


@pytest.mark.parametrize("plugin_class", [RateLimiterPlugin, TokenRateLimiterPlugin])
def test_both_limiters_share_the_base(plugin_class):
    assert issubclass(plugin_class, RedisScriptPlugin)
    assert plugin_class.script_source == plugin_class.script_path.read_text()


@pytest.mark.usefixtures("redis_down")
def test_rate_limiter_with_redis_down_fails_open_or_answers_503():
    request = make_request()
    make_plugin("rate_limiter", PER_IP).pre_request(request)
    assert request.response_headers == {}
    with pytest.raises(PluginRejection) as caught:
        make_plugin("rate_limiter", {**PER_IP, "fail_open": False}).pre_request(make_request())
    assert (caught.value.status, caught.value.message) == (503, "rate limiter unavailable")
