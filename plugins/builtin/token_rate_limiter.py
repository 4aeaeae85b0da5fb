"""token_rate_limiter: LLM tokens per sliding window, reserved up front, reconciled with usage.

Only requests routed to LLM provider targets (`request.llm` set) are counted; other traffic
passes untouched."""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from rest_framework import serializers

from gateway_project.durations import parse_duration_ms
from gateway_project.fields import DurationField, HeaderNameField
from gateway_project.serializers import StrictSerializer
from plugins.base import PluginSettingsSerializer
from plugins.builtin.redis_script import RedisScriptPlugin
from plugins.configs import Config
from plugins.sdk.cache import HIT
from plugins.sdk.context import Finding, PluginRejection, RequestContext, ResponseContext
from plugins.sdk.llm_content import completion_limit, positive_int, prompt_tokens_estimate

logger = logging.getLogger(__name__)

TRUSTGATE_UNITS = {"second": "1s", "minute": "1m", "hour": "1h", "day": "1d"}
TRUSTGATE_KEYS = ("identifier_header", "window")


@dataclass(frozen=True, kw_only=True)
class TokenRateLimiterConfig(Config):
    limit: int
    window: str = "1m"
    identifier: str = "key"
    user_header: str | None = None
    default_max_tokens: int = 1024


class TrustGateWindowSerializer(StrictSerializer):
    """TrustGate E2's window: `max` tokens per `unit`."""

    unit = serializers.ChoiceField(choices=list(TRUSTGATE_UNITS))
    max = serializers.IntegerField(min_value=1, max_value=10**12)
    unknown_key_message = "Unknown setting."


class TokenRateLimiterSettingsSerializer(PluginSettingsSerializer):
    limit = serializers.IntegerField(min_value=1, max_value=10**12, help_text="Tokens per window.")
    window = DurationField(
        default=TokenRateLimiterConfig.window, help_text="Sliding window, e.g. 30s, 1m, 1h."
    )
    identifier = serializers.ChoiceField(
        choices=["key", "user"],
        default=TokenRateLimiterConfig.identifier,
        help_text="Whose budget: the API key, or the user named by `user_header` (else the "
        "API key; the client IP on public rules).",
    )
    user_header = HeaderNameField(
        required=False,
        help_text="For identifier 'user': a header naming the user that the operator trusts "
        "(set by an auth proxy in front of the gateway). Without it, 'user' counts per key.",
    )
    default_max_tokens = serializers.IntegerField(
        min_value=1,
        max_value=10**9,
        default=TokenRateLimiterConfig.default_max_tokens,
        help_text="Completion tokens reserved when a request sets no max_tokens.",
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and (
            "identifier_header" in data or isinstance(data.get("window"), dict)
        ):
            data = from_trustgate(data)
        return super().to_internal_value(data)


def from_trustgate(data: dict[str, Any]) -> dict[str, Any]:
    """TrustGate E2's `{identifier_header?, window: {unit, max}}` as this plugin's settings:
    `max` tokens per `unit`, budgets per the header's value (else per API key)."""
    rest = {key: value for key, value in data.items() if key not in TRUSTGATE_KEYS}
    clash = sorted(set(rest) & {"limit", "identifier", "user_header"})
    if clash:
        message = "Not with TrustGate's identifier_header/window {unit, max}: use one shape."
        raise serializers.ValidationError({key: [message] for key in clash})
    window = TrustGateWindowSerializer(data=data.get("window"))
    if not window.is_valid():
        raise serializers.ValidationError({"window": window.errors})
    converted = {
        **rest,
        "limit": window.validated_data["max"],
        "window": TRUSTGATE_UNITS[window.validated_data["unit"]],
    }
    if "identifier_header" in data:
        try:
            header = HeaderNameField().run_validation(data["identifier_header"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"identifier_header": exc.detail}) from exc
        converted.update(identifier="user", user_header=header)
    return converted


def estimate_tokens(request: RequestContext, default_max_tokens: int) -> int:
    """Completion budget (max_tokens, max_completion_tokens, the Responses API's
    max_output_tokens, else the default; once per answer asked for, `n`) plus the prompt at ~4
    characters a token (its text when the JSON names it, else the whole body)."""
    body = request.json_body()
    answers = (positive_int(body.get("n")) or 1) if isinstance(body, dict) else 1
    completion = (completion_limit(body) or default_max_tokens) * answers
    return completion + prompt_tokens_estimate(body, len(request.body))


@dataclass
class Reservation:
    """What pre_request reserved for one request, kept in request.metadata."""

    keys: list[str]
    rid: str
    tokens: int


@dataclass(frozen=True)
class Decision:
    admitted: bool
    total: int
    wait_ms: int

    @classmethod
    def from_reply(cls, reply: list[Any]) -> Decision:
        """The script's reply `{admitted, _, total, wait_ms}`."""
        return cls(admitted=bool(int(reply[0])), total=int(reply[2]), wait_ms=int(reply[3]))


def _seconds(milliseconds: int) -> int:
    return max(1, math.ceil(milliseconds / 1000))


class TokenRateLimiterPlugin(RedisScriptPlugin):
    """Reserves the estimated tokens before the upstream call; a refused request reserves
    nothing; after the response the reservation is replaced by the real usage."""

    name = "token_rate_limiter"
    limits_rate = True
    description = "LLM tokens per window per API key or user, reconciled with the real usage."
    allowed_stages = ("pre_request", "post_response")
    fixed_stages = ("pre_request", "post_response")
    settings_serializer = TokenRateLimiterSettingsSerializer
    Config = TokenRateLimiterConfig
    config: TokenRateLimiterConfig
    label = "Token Rate Limiter"
    category = "request_validation"
    script_path = Path(__file__).parent / "token_rate_limiter.lua"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.limit: int = config.limit
        self.window_ms = parse_duration_ms(config.window)
        self.user_header: str | None = config.user_header if config.identifier == "user" else None
        self.default_max_tokens: int = config.default_max_tokens

    def identity(self, request: RequestContext) -> str:
        """The trusted user header (identifier "user"), else the API key, else the client IP."""
        user = request.headers.get(self.user_header) if self.user_header else None
        if user:
            return "user:" + hashlib.sha256(user.encode()).hexdigest()[:32]
        if request.api_key_id:
            return "key:" + request.api_key_id
        return "ip:" + request.client_ip

    def keys(self, request: RequestContext) -> list[str]:
        tag = "{trl:" + self.instance_id + ":" + self.identity(request) + "}"
        return [f"{tag}:log", f"{tag}:tokens", f"{tag}:total"]

    def pre_request(self, request: RequestContext) -> None:
        if request.llm is None:  # not LLM traffic
            return
        tokens = estimate_tokens(request, self.default_max_tokens)
        reservation = Reservation(self.keys(request), uuid.uuid4().hex, tokens)
        reply = self.decide(reservation.keys, self._args("reserve", reservation, tokens))
        if reply is None:  # Redis unavailable, failing open
            return
        decision = Decision.from_reply(reply)
        request.response_headers.update(self._headers(decision))
        if not decision.admitted:
            request.findings.append(Finding(self.name, "tokens", "blocked"))
            raise self._rejection(decision, tokens)
        request.metadata[self.instance_id] = reservation

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        reservation = request.metadata.pop(self.instance_id, None)
        if reservation is None:
            return
        used = self._used_tokens(request, response)
        if used is None or used == reservation.tokens:
            return
        try:
            self.run_script(reservation.keys, self._args("reconcile", reservation, used))
        except redis.RedisError as exc:  # accounting only: never fail the answered request
            logger.warning("token_rate_limiter %s: cannot reconcile: %s", self.instance_id, exc)

    @staticmethod
    def _used_tokens(request: RequestContext, response: ResponseContext) -> int | None:
        """Real usage when the answer reports it (the proxy's LLM exchange settles it on
        `request.llm`, from the upstream's body or stream); 0 for an error answer without usage
        (the provider refused the work) and for an answer the response cache gave (no provider
        call); None (keep the estimate) otherwise."""
        if request.llm is not None and request.llm.cache == HIT:
            return 0
        used = request.llm.total_tokens if request.llm is not None else None
        if used is None and response.status >= 400:
            return 0
        return used

    def _args(self, op: str, reservation: Reservation, tokens: int) -> list[Any]:
        return [op, self.limit, self.window_ms, reservation.rid, max(tokens, 0)]

    def _headers(self, decision: Decision) -> dict[str, str]:
        reset_ms = decision.wait_ms if decision.wait_ms >= 0 else self.window_ms
        return {
            "x-ratelimit-limit-tokens": str(self.limit),
            "x-ratelimit-remaining-tokens": str(max(self.limit - decision.total, 0)),
            "x-ratelimit-reset-tokens": f"{math.ceil(max(reset_ms, 0) / 1000)}s",
        }

    def _rejection(self, decision: Decision, tokens: int) -> PluginRejection:
        if decision.wait_ms < 0:  # can never fit: retrying is pointless, so no Retry-After
            return PluginRejection(
                429,
                f"token rate limit exceeded: the request needs {tokens} tokens, "
                f"more than the limit of {self.limit} per window",
            )
        retry_after = _seconds(decision.wait_ms)
        return PluginRejection(
            429,
            "token rate limit exceeded",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )
