"""rate_limiter: exact sliding-window limits per gateway, IP, user, key and MCP tool, one Redis
call each."""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
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

    @property
    def bucket_ms(self) -> int:
        """0 for a request log, else the width of the counting buckets."""
        if self.limit <= LOG_LIMIT:
            return 0
        return max(self.window_ms // BUCKETS_PER_WINDOW, 1)


@dataclass(frozen=True)
class ScopeState:
    limit: Limit
    count: int
    oldest_ms: int
    blocked_ms: int

    @property
    def remaining(self) -> int:
        return max(self.limit.limit - self.count, 0)

    def reset_ms(self, now_ms: int) -> int:
        """When this scope next gains a free slot (or its block ends)."""
        return max(self.oldest_ms + self.limit.window_ms, now_ms + self.blocked_ms)


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
        if request.mcp_tool:
            return self.limits
        return [limit for limit in self.limits if limit.scope != TOOL_SCOPE]

    def keys(self, request: RequestContext, limits: list[Limit] | None = None) -> list[str]:
        tag = "{rl:" + self.instance_id + "}"  # one hash tag: every key of a decision in one slot
        records = [
            f"{tag}:{lim.scope}:{self.identity(lim.scope, request)}"
            + (":b" if lim.bucket_ms else "")
            for lim in (self.limits if limits is None else limits)
        ]
        return records + [key + ":blocked" for key in records]

    def pre_request(self, request: RequestContext) -> None:
        limits = self.limits_of(request)
        if not limits:  # a per_tool limit alone, and no tool called
            return
        reply = self.decide(self.keys(request, limits), self._args(limits))
        if reply is None:  # Redis unavailable, failing open
            return
        rejected, now_ms, states = self._states(reply, limits)
        request.response_headers.update(self._headers(states, now_ms))
        if rejected is not None:
            request.findings.append(Finding(self.name, rejected.limit.scope, "blocked"))
            retry_after = self.retry_after
            if retry_after is None:
                retry_after = max(1, math.ceil((rejected.reset_ms(now_ms) - now_ms) / 1000))
            raise PluginRejection(
                429,
                f"{rejected.limit.scope} rate limit exceeded",
                headers={"Retry-After": str(retry_after)},
                retry_after=retry_after,
            )

    def _args(self, limits: list[Limit]) -> list[Any]:
        args: list[Any] = [
            len(limits),
            uuid.uuid4().hex,
            self.retry_after * 1000 if self.block else 0,
        ]
        for limit in limits:
            args += [limit.limit, limit.window_ms, limit.bucket_ms]
        return args

    def _states(
        self, reply: list[Any], limits: list[Limit]
    ) -> tuple[ScopeState | None, int, list[ScopeState]]:
        rejected_index, now_ms = int(reply[0]), int(reply[1])
        states = [
            ScopeState(limit, int(reply[2 + 3 * i]), int(reply[3 + 3 * i]), int(reply[4 + 3 * i]))
            for i, limit in enumerate(limits)
        ]
        rejected = states[rejected_index - 1] if rejected_index else None
        return rejected, now_ms, states

    @staticmethod
    def _headers(states: list[ScopeState], now_ms: int) -> dict[str, str]:
        headers: dict[str, str] = {}
        for state in states:
            prefix = f"X-RateLimit-{state.limit.scope}"
            headers[f"{prefix}-Limit"] = str(state.limit.limit)
            headers[f"{prefix}-Remaining"] = str(state.remaining)
            headers[f"{prefix}-Reset"] = str(math.ceil(state.reset_ms(now_ms) / 1000))
        tightest = min(states, key=lambda s: (s.remaining, s.limit.limit))
        headers["X-RateLimit-Limit"] = str(tightest.limit.limit)
        headers["X-RateLimit-Remaining"] = str(tightest.remaining)
        headers["X-RateLimit-Reset"] = str(math.ceil(tightest.reset_ms(now_ms) / 1000))
        return headers
