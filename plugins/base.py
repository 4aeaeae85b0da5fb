"""The Plugin base class: what a plugin declares (name, stages, settings) and the hooks it
overrides; the contexts and results its hooks take are the SDK's (plugins.sdk)."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework import serializers

from gateway_project.serializers import JSONBooleanField, StrictSerializer
from plugins.configs import Config, config_from, settings_of
from plugins.sdk.cache import Embed
from plugins.sdk.context import RequestContext, ResponseContext
from plugins.sdk.streams.text_filter import TextFilter
from plugins.stages import STAGES

# The catalogue's plugin categories (TrustGate's vocabulary).
CATEGORIES = ("request_validation", "application_security", "content_security", "data_masking")


class PluginSettingsSerializer(StrictSerializer):
    """Base of every plugin's settings serializer: adds the common `fail_open` switch."""

    unknown_key_message = "Unknown setting."
    fail_open = JSONBooleanField(required=False)


class Plugin:
    """Base class of gateway plugins; subclasses declare their name, stages, settings
    serializer (what is accepted and stored) and Config (what the plugin is built with).

    A plugin instance is built once per compiled configuration and shared by concurrent
    requests: keep per-request state in `request.metadata`, never on `self`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    label: ClassVar[str] = ""  # the catalogue's display name; the name when empty
    category: ClassVar[str] = ""  # one of CATEGORIES (checked when the registry loads)
    allowed_stages: ClassVar[tuple[str, ...]] = STAGES
    # Stages the plugin always runs in, whatever stage it is configured with (e.g. a token
    # limiter reserves in pre_request and reconciles in post_response).
    fixed_stages: ClassVar[tuple[str, ...]] = ()
    settings_serializer: ClassVar[type[serializers.Serializer]] = PluginSettingsSerializer
    # The frozen dataclass of the settings as stored (plugins.configs): the owner of their
    # defaults, which the serializer's fields take from it.
    Config: ClassVar[type[Config]] = Config
    fail_open_default: ClassVar[bool] = False
    # The 500 error a request gets when this plugin crashes and does not fail open.
    error_message: ClassVar[str] = "plugin execution failed"
    # The error a streamed answer ends with when this plugin's stream filter crashes.
    stream_error_message: ClassVar[str] = "plugin execution failed"
    # Dotted paths of write-only settings (`*`: every key or item), shown masked by the admin
    # API and the Django admin; see gateway_project.secret_masking.
    secret_settings: ClassVar[tuple[str, ...]] = ()
    # A rate limiter's "blocked" findings are counted as rate-limit rejections (per scope).
    limits_rate: ClassVar[bool] = False
    # The order rule (plugins.ordering): a plugin that rewrites the request in pre_request
    # (masking, sanitising) runs alone in its step and before any plugin that sends content
    # out of the gateway (guardrail services), so that none sees the text unrewritten.
    rewrites_request: ClassVar[bool] = False
    sends_content_out: ClassVar[bool] = False

    def __init__(self, *, instance_id: str, level: str, stage: str, config: Config):
        """`config` is the plugin's Config, made of its stored settings by `config_from`."""
        self.instance_id = instance_id
        self.level = level
        self.stage = stage
        self.config = config
        self.fail_open: bool = (
            self.fail_open_default if config.fail_open is None else config.fail_open
        )

    @property
    def settings(self) -> dict[str, Any]:
        """The stored form of the config, for display and tests (plugins read `config`)."""
        return settings_of(self.config)

    @classmethod
    def config_from(cls, settings: Any) -> Config:
        """The plugin's Config of stored (validated, normalised) settings, without running the
        serializer; raises plugins.configs.ConfigError when they do not have its shape."""
        return config_from(cls.Config, settings)

    @classmethod
    def validated_settings(
        cls, settings: Any, *, context: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Settings as the plugin's serializer validates and normalises them (types, defaults):
        what is stored, and what the plugin is built with. Raises ValidationError."""
        serializer = cls.settings_serializer(data=settings, context=context or {})
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    @classmethod
    def rewrites_request_with(cls, config: Config) -> bool:
        """Whether a plugin of this config may rewrite the request in pre_request
        (`rewrites_request` unless its settings decide)."""
        return cls.rewrites_request

    def fails_open_on(self, stage: str, error: Exception) -> bool:
        """Whether an unexpected error in a hook of `stage` lets the request through."""
        return self.fail_open

    @property
    def stages(self) -> tuple[str, ...]:
        return self.fixed_stages or (self.stage,)

    def pre_auth(self, request: RequestContext) -> None:
        """Optional: runs before authentication, for CORS preflights only (a preflight carries
        no API key). A plugin that overrides it is in its chain's `pre_auth` step; it answers
        with PluginResponse or PluginRejection, or returns to let the request go on."""

    def pre_request(self, request: RequestContext) -> None:
        raise NotImplementedError(".pre_request() must be overridden")

    def post_request(self, request: RequestContext, response: ResponseContext) -> None:
        raise NotImplementedError(".post_request() must be overridden")

    def pre_response(self, request: RequestContext, response: ResponseContext) -> None:
        raise NotImplementedError(".pre_response() must be overridden")

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        raise NotImplementedError(".post_response() must be overridden")

    def cache_lookup(self, request: RequestContext, embed: Embed) -> None:
        """Optional, for a response cache on rules with provider targets: runs once every
        pre_request plugin ran (the request as it goes upstream); raises `CacheHit`
        (plugins.sdk.cache) to answer with a kept answer, or returns (the provider is called);
        `embed` asks one of the rule's targets for a vector. A plugin that overrides it is in
        its chain's `cache_plugins`."""

    def cache_store(self, request: RequestContext, completion: dict[str, Any]) -> None:
        """Optional: the upstream's complete, successful answer (a `chat.completion`, a
        stream's assembled after its terminal event), before any response plugin changed it."""

    def on_chunk(self, request: RequestContext, chunk: bytes) -> bytes:
        """Called for each chunk of a streamed body in the response stages; may rewrite it."""
        return chunk

    def stream_filter(
        self, request: RequestContext, response: ResponseContext
    ) -> TextFilter | None:
        """Optional, for plugins in a response stage: a new TextFilter for one text of a
        streamed answer (called once per text: per choice, tool call or content block), or None
        to leave it alone. Streams of text (SSE of OpenAI chat chunks, Anthropic or Responses
        events; plain text) are decoded for the filters; other bodies pass untouched."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance_id} {self.stages}>"
