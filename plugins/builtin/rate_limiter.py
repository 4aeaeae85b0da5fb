"""rate_limiter: exact sliding-window limits per gateway, IP, user, key and MCP tool, one Redis
call each."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_framework import serializers

from gateway_project.durations import parse_duration_ms
from gateway_project.fields import DurationField, HeaderNameField
from gateway_project.serializers import StrictSerializer
from plugins.base import PluginSettingsSerializer
from plugins.builtin.redis_script import RedisScriptPlugin
from plugins.configs import Config
from plugins.sdk.context import Finding, PluginRejection, RequestContext

SCOPES = ("global", "per_ip", "per_user", "per_key", "per_tool")
TOOL_SCOPE = "per_tool"  # MCP tools/call only: calls of each tool per key (IP on public rules)
MAX_IDENTITY_LENGTH = 64
# Up to this limit a scope logs each request (exact to the millisecond, memory ~ the limit);
# above it, counts per 1/BUCKETS_PER_WINDOW of the window (bounded memory, still never over).
LOG_LIMIT = 1_000
BUCKETS_PER_WINDOW = 100


@dataclass(frozen=True, kw_only=True)
class WindowLimit:
    limit: int
    window: str


@dataclass(frozen=True, kw_only=True)
class RateLimitActions:
    type: str = "reject"
    retry_after: int | None = None


@dataclass(frozen=True, kw_only=True)
class RateLimiterConfig(Config):
    limits: Mapping[str, WindowLimit]  # scope -> its limit, at least one scope
    actions: RateLimitActions = RateLimitActions()
    user_header: str | None = None


class LimitSerializer(StrictSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=10_000_000)
    window = DurationField()


class LimitsSerializer(StrictSerializer):
    """Any of `global`, `per_ip`, `per_user`, `per_key`, `per_tool`; at least one."""

    unknown_key_message = f"Unknown scope; use one of {', '.join(SCOPES)}."

    def get_fields(self) -> dict[str, serializers.Field]:
        return {scope: LimitSerializer(required=False) for scope in SCOPES}

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError(f"Configure at least one of {', '.join(SCOPES)}.")
        return values


class RetryAfterField(serializers.IntegerField):
    """Seconds, given as a number or as a string of digits (the seed writes `"60"`)."""

    json_schema = {"type": ["integer", "string"], "pattern": "^[0-9]+$"}  # see plugins.schema

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(min_value=0, max_value=366 * 86400, **kwargs)


class ActionsSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["reject", "block"], default=RateLimitActions.type)
    retry_after = RetryAfterField(required=False)


class RateLimiterSettingsSerializer(PluginSettingsSerializer):
    limits = LimitsSerializer()
    actions = ActionsSerializer(required=False)
    user_header = HeaderNameField(
        required=False,
        help_text="A header naming the user that the operator trusts (set by an auth proxy in "
        "front of the gateway); per_user then counts per its value. Without it, per_user "
        "counts per API key (the client IP on public rules).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        actions = attrs.get("actions") or {}
        if actions.get("type") == "block" and not actions.get("retry_after"):
            raise serializers.ValidationError(
                {"actions": {"retry_after": ["Required for type 'block': how long to block."]}}
            )
        return attrs


@dataclass(frozen=True)
class Limit:
    scope: str
    limit: int
    window_ms: int
    bucket_ms: int = field(init=False)  # 0 for a request log, else the width of its buckets
    headers: tuple[str, str, str] = field(init=False)  # X-RateLimit-<scope>-Limit, ...
    limit_text: str = field(init=False)  # the Limit header's value

    def __post_init__(self) -> None:
        bucket_ms = 0 if self.limit <= LOG_LIMIT else max(self.window_ms // BUCKETS_PER_WINDOW, 1)
        prefix = f"X-RateLimit-{self.scope}"
        object.__setattr__(self, "bucket_ms", bucket_ms)
        object.__setattr__(
            self, "headers", (f"{prefix}-Limit", f"{prefix}-Remaining", f"{prefix}-Reset")
        )
        object.__setattr__(self, "limit_text", str(self.limit))


def scope_state(
    limit: Limit, count: Any, oldest_ms: Any, blocked_ms: Any, now_ms: int
) -> tuple[int, int]:
    """A scope's count after a decision, from its three numbers in the script's reply:
    (requests it still admits, when it next gains a free slot or its block ends, in ms)."""
    remaining = max(limit.limit - int(count), 0)
    return remaining, max(int(oldest_ms) + limit.window_ms, now_ms + int(blocked_ms))


def limit_headers(reply: list[Any], limits: list[Limit]) -> dict[str, str]:
    """The X-RateLimit headers of a decision, read straight from the script's reply: per limit
    its Limit, Remaining and Reset (Unix seconds, rounded up), then the same three of the
    tightest limit (fewest remaining, then the lowest limit) without the scope."""
    now_ms = int(reply[1])
    headers: dict[str, str] = {}
    tightest = (math.inf, math.inf, "", "", "")
    for limit, count, oldest_ms, blocked_ms in zip(
        limits, reply[2::3], reply[3::3], reply[4::3], strict=True
    ):
        remaining, reset_ms = scope_state(limit, count, oldest_ms, blocked_ms, now_ms)
        limit_name, remaining_name, reset_name = limit.headers
        headers[limit_name] = limit.limit_text
        headers[remaining_name] = remaining_text = str(remaining)
        headers[reset_name] = reset_text = str(-(-reset_ms // 1000))
        if (remaining, limit.limit) < tightest[:2]:
            tightest = (remaining, limit.limit, limit.limit_text, remaining_text, reset_text)
    headers["X-RateLimit-Limit"] = tightest[2]
    headers["X-RateLimit-Remaining"] = tightest[3]
    headers["X-RateLimit-Reset"] = tightest[4]
    return headers


def _identity(value: str) -> str:
    if len(value) <= MAX_IDENTITY_LENGTH and value.isprintable() and " " not in value:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class RateLimiterPlugin(RedisScriptPlugin):
    """Sliding-window request limits; a rejected request consumes no budget."""

    name = "rate_limiter"
    limits_rate = True
    description = "Exact sliding-window request limits: global, per IP, per user and per API key."
    allowed_stages = ("pre_request",)
    fixed_stages = ("pre_request",)
    settings_serializer = RateLimiterSettingsSerializer
    Config = RateLimiterConfig
    config: RateLimiterConfig
    label = "Rate Limiter"
    category = "request_validation"
    script_path = Path(__file__).parent / "rate_limiter.lua"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        limits = self.config.limits
        self.limits = [
            Limit(scope, limits[scope].limit, parse_duration_ms(limits[scope].window))
            for scope in SCOPES
            if scope in limits
        ]
        if not self.limits:  # stored before validation refused it: never run without a limit
            raise ValueError("rate_limiter: no limit configured")
        self.block = self.config.actions.type == "block"
        self.retry_after: int | None = self.config.actions.retry_after
        self.user_header: str | None = self.config.user_header or None
        # What each request sends beside its keys, made once: the limits it counts (per_tool
        # only for an MCP tool call) and their script arguments.
        self.block_ms = self.retry_after * 1000 if self.block and self.retry_after else 0
        self.counted = self._counted(self.limits)
        self.counted_without_tool = self._counted(
            [limit for limit in self.limits if limit.scope != TOOL_SCOPE]
        )
        self.tag = "{rl:" + self.instance_id + "}"  # one hash tag: a decision's keys in one slot

    @staticmethod
    def _counted(limits: list[Limit]) -> tuple[list[Limit], tuple[int, ...]]:
        return limits, tuple(n for lim in limits for n in (lim.limit, lim.window_ms, lim.bucket_ms))

    def identity(self, scope: str, request: RequestContext) -> str:
        """Who a scope counts: everyone, the client IP, the user or the API key.

        The user is the trusted `user_header` when configured and sent, else the verified API
        key, else (public rules) the client IP: never a header the client chose on its own."""
        if scope == "global":
            return "all"
        if scope == "per_ip":
            return request.client_ip
        if scope == "per_user" and self.user_header and request.headers.get(self.user_header):
            return "user:" + _identity(request.headers[self.user_header])
        if scope == TOOL_SCOPE:
            who = f"key:{request.api_key_id}" if request.api_key_id else f"ip:{request.client_ip}"
            return f"{who}:tool:{_identity(request.mcp_tool or '')}"
        if request.api_key_id:
            return "key:" + request.api_key_id
        return "ip:" + request.client_ip

    def limits_of(self, request: RequestContext) -> list[Limit]:
        """The limits a request counts against: per_tool only for an MCP tool call."""
        return (self.counted if request.mcp_tool else self.counted_without_tool)[0]

    def keys(self, request: RequestContext, limits: list[Limit] | None = None) -> list[str]:
        tag = self.tag
        records = [
            f"{tag}:{lim.scope}:{self.identity(lim.scope, request)}"
            + (":b" if lim.bucket_ms else "")
            for lim in (self.limits if limits is None else limits)
        ]
        return records + [key + ":blocked" for key in records]

    def pre_request(self, request: RequestContext) -> None:
        limits, limit_args = self.counted if request.mcp_tool else self.counted_without_tool
        if not limits:  # a per_tool limit alone, and no tool called
            return
        # The nonce tells apart the log entries of one millisecond (any process, any node).
        args = [len(limits), os.urandom(16).hex(), self.block_ms, *limit_args]
        reply = self.decide(self.keys(request, limits), args)
        if reply is None:  # Redis unavailable, failing open
            return
        request.response_headers.update(limit_headers(reply, limits))
        rejected_index = int(reply[0])
        if rejected_index:
            self.reject(request, reply, limits, rejected_index)

    def reject(
        self, request: RequestContext, reply: list[Any], limits: list[Limit], index: int
    ) -> None:
        """429 for the limit the script rejected (its number in `index`), Retry-After the
        configured seconds or until that limit frees a slot."""
        rejected, now_ms = limits[index - 1], int(reply[1])
        first = 2 + 3 * (index - 1)  # its count, oldest entry and block in the reply
        _, reset_ms = scope_state(rejected, *reply[first : first + 3], now_ms)
        request.findings.append(Finding(self.name, rejected.scope, "blocked"))
        retry_after = self.retry_after
        if retry_after is None:
            retry_after = max(1, math.ceil((reset_ms - now_ms) / 1000))
        raise PluginRejection(
            429,
            f"{rejected.scope} rate limit exceeded",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
