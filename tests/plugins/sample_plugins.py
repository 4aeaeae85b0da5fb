"""Small real plugins used by the pipeline tests (registered through settings like any other)."""

from __future__ import annotations

import gevent
from rest_framework import serializers

from plugins.base import Plugin, PluginSettingsSerializer, RequestContext, ResponseContext


class RecorderSettings(PluginSettingsSerializer):
    label = serializers.CharField()
    sleep = serializers.FloatField(default=0.0, min_value=0.0, max_value=5.0)


class RecorderPlugin(Plugin):
    """Appends its label to X-Order; may sleep cooperatively to show concurrency."""

    name = "recorder"
    category = "request_validation"
    allowed_stages = ("pre_request", "post_request", "pre_response", "post_response")
    settings_serializer = RecorderSettings

    def _record(self, request: RequestContext) -> None:
        gevent.sleep(float(self.settings.get("sleep", 0)))
        order = request.metadata.setdefault("order", [])
        order.append(f"{self.stage}:{self.settings['label']}")
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


class LLMRecorderPlugin(Plugin):
    """Names the LLM call of the request (provider, model, tokens) in an X-LLM header."""

    name = "llm_recorder"
    category = "request_validation"
    allowed_stages = ("post_response",)

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        llm = request.llm
        if llm is not None:
            fields = (llm.provider, llm.model, llm.prompt_tokens, llm.completion_tokens)
            request.response_headers["X-LLM"] = " ".join(str(field) for field in fields)


SAMPLE_PLUGINS = [
    "tests.plugins.sample_plugins.RecorderPlugin",
    "tests.plugins.sample_plugins.SecondRecorderPlugin",
    "tests.plugins.sample_plugins.ThirdRecorderPlugin",
    "tests.plugins.sample_plugins.CrasherPlugin",
    "tests.plugins.sample_plugins.ShoutPlugin",
    "tests.plugins.sample_plugins.LLMRecorderPlugin",
]
