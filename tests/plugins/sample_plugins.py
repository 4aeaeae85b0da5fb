"""Small real plugins used by the pipeline tests (registered through settings like any other)."""

from __future__ import annotations

import dataclasses

import gevent
from rest_framework import serializers

from plugins.base import Plugin, PluginSettingsSerializer
from plugins.configs import Config
from plugins.sdk.context import LLMCall, RequestContext, ResponseContext
from plugins.sdk.streams.text_filter import StreamStop, TextFilter

# What LLMRecorderPlugin saw, by request id (the proxy's X-Request-ID answer header).
LLM_CALLS: dict[str, LLMCall] = {}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecorderConfig(Config):
    label: str
    sleep: float = 0.0


class RecorderSettings(PluginSettingsSerializer):
    label = serializers.CharField()
    sleep = serializers.FloatField(default=RecorderConfig.sleep, min_value=0.0, max_value=5.0)


class RecorderPlugin(Plugin):
    """Appends its label to X-Order; may sleep cooperatively to show concurrency."""

    name = "recorder"
    category = "request_validation"
    allowed_stages = ("pre_request", "post_request", "pre_response", "post_response")
    settings_serializer = RecorderSettings
    Config = RecorderConfig

    def _record(self, request: RequestContext) -> None:
        gevent.sleep(self.config.sleep)
        order = request.metadata.setdefault("order", [])
        order.append(f"{self.stage}:{self.config.label}")
        request.response_headers["X-Order"] = ",".join(order)

    def pre_request(self, request: RequestContext) -> None:
        self._record(request)

    def post_request(self, request: RequestContext, response: ResponseContext) -> None:
        self._record(request)

    def pre_response(self, request: RequestContext, response: ResponseContext) -> None:
        self._record(request)

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        self._record(request)


class SecondRecorderPlugin(RecorderPlugin):
    name = "recorder_b"


class ThirdRecorderPlugin(RecorderPlugin):
    name = "recorder_c"


class CrasherPlugin(Plugin):
    """Raises in pre_request, as a buggy plugin would."""

    name = "crasher"
    category = "request_validation"
    allowed_stages = ("pre_request",)

    def pre_request(self, request: RequestContext) -> None:
        raise RuntimeError("boom")


class ShoutPlugin(Plugin):
    """Upper-cases response bodies: whole ones in post_response, streamed ones chunk by chunk."""

    name = "shout"
    category = "content_security"
    allowed_stages = ("post_response",)

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        if response.body is not None:
            response.body = response.body.upper()
            response.headers["X-Shouted"] = "whole"

    def on_chunk(self, request: RequestContext, chunk: bytes) -> bytes:
        return chunk.upper()


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChunkCrasherConfig(Config):
    crash_on: str = "boom"


class ChunkCrasherSettings(PluginSettingsSerializer):
    crash_on = serializers.CharField(default=ChunkCrasherConfig.crash_on)


class ChunkCrasherPlugin(Plugin):
    """Raises in on_chunk on a chunk holding `crash_on`, as a buggy chunk hook would."""

    name = "chunk_crasher"
    category = "request_validation"
    allowed_stages = ("post_response",)
    settings_serializer = ChunkCrasherSettings
    Config = ChunkCrasherConfig
    stream_error_message = "chunk hook failed"

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        pass

    def on_chunk(self, request: RequestContext, chunk: bytes) -> bytes:
        if self.config.crash_on.encode() in chunk:
            raise RuntimeError("chunk hook crashed")
        return chunk


class RedactFilter(TextFilter):
    """Replaces a word in a streamed text, holding back a tail that may be the word's start."""

    def __init__(self, word: str, stop_on: str, crash_on: str) -> None:
        self.word, self.stop_on, self.crash_on = word, stop_on, crash_on
        self.held = ""

    def feed(self, text: str) -> str:
        text = self.held + text
        if self.stop_on and self.stop_on in text:
            raise StreamStop(f"content flagged: {self.stop_on}", "guardrail")
        if self.crash_on and self.crash_on in text:
            raise RuntimeError("redact filter crashed")
        text = self.complete(text)
        keep = next(
            (
                n
                for n in range(min(len(self.word) - 1, len(text)), 0, -1)
                if self.word.startswith(text[-n:])
            ),
            0,
        )
        self.held = text[len(text) - keep :]
        return text[: len(text) - keep]

    def finish(self) -> str:
        held, self.held = self.held, ""
        return held

    def complete(self, text: str) -> str:
        return text.replace(self.word, "[gone]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class RedactConfig(Config):
    word: str = "secret"
    stop_on: str = ""
    crash_on: str = ""


class RedactSettings(PluginSettingsSerializer):
    word = serializers.CharField(default=RedactConfig.word)
    stop_on = serializers.CharField(default=RedactConfig.stop_on, allow_blank=True)
    crash_on = serializers.CharField(default=RedactConfig.crash_on, allow_blank=True)


class RedactPlugin(Plugin):
    """Replaces a word in streamed answers through a stream filter (and in whole bodies)."""

    name = "redact"
    category = "data_masking"
    allowed_stages = ("post_response",)
    settings_serializer = RedactSettings
    Config = RedactConfig
    stream_error_message = "redaction failed"

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        if response.body is not None:
            response.body = response.body.replace(self.config.word.encode(), b"[gone]")

    def stream_filter(self, request: RequestContext, response: ResponseContext) -> TextFilter:
        config = self.config
        return RedactFilter(config.word, config.stop_on, config.crash_on)


class LLMRecorderPlugin(Plugin):
    """Keeps a copy of each request's LLM call (provider, model, tokens, cost) once answered,
    and names it in an X-LLM header."""

    name = "llm_recorder"
    category = "request_validation"
    allowed_stages = ("post_response",)

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        llm = request.llm
        if llm is not None:
            LLM_CALLS[request.request_id] = dataclasses.replace(llm)
            fields = (llm.provider, llm.model, llm.prompt_tokens, llm.completion_tokens)
            request.response_headers["X-LLM"] = " ".join(str(field) for field in fields)


SAMPLE_PLUGINS = [
    "tests.plugins.sample_plugins.RecorderPlugin",
    "tests.plugins.sample_plugins.SecondRecorderPlugin",
    "tests.plugins.sample_plugins.ThirdRecorderPlugin",
    "tests.plugins.sample_plugins.CrasherPlugin",
    "tests.plugins.sample_plugins.ShoutPlugin",
    "tests.plugins.sample_plugins.RedactPlugin",
    "tests.plugins.sample_plugins.ChunkCrasherPlugin",
    "tests.plugins.sample_plugins.LLMRecorderPlugin",
]
