"""OpenAI, Mistral and any OpenAI-compatible server (vLLM, Ollama...), and Azure OpenAI: the
request is OpenAI's already; only the model, path, (Azure) deployment and a stream's usage
option change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from plugins.sdk.sse import DONE, SSEEvent, json_event
from proxy.llm.base import Adapter
from proxy.llm.streams import SSETranslator
from proxy.llm.wire import Call, ProviderRequest, Settle, api_path

AZURE_API_VERSION = "2024-10-21"


class OpenAIAdapter(Adapter):
    """A stream is always asked for its usage (`stream_options.include_usage`), metered; the
    usage-only chunk is relayed only when the client asked for it (see UsageStream)."""

    name = "openai"
    content_parts = None
    dropped_fields: tuple[str, ...] = ()
    asks_stream_usage = True

    def translates_answer(self, call: Call) -> bool:
        return self.hides_usage(call)

    def hides_usage(self, call: Call) -> bool:
        """A stream whose usage the gateway asks for, the client did not."""
        return self.asks_stream_usage and call.stream and not call.include_usage

    def chat_stream(self, call: Call, settle: Settle) -> SSETranslator:
        return UsageStream(call, settle)

    def chat_answer(self, data: Any, call: Call) -> dict[str, Any]:
        """A JSON answer to a stream request is OpenAI's already."""
        return data

    def error_answer(self, status: int, data: Any, headers: Mapping[str, str]) -> dict[str, Any]:
        """OpenAI's own error answers pass unchanged (their codes are the client's to read)."""
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return data
        return super().error_answer(status, data, headers)

    def chat_request(self, call: Call) -> ProviderRequest:
        return ProviderRequest(self.path(call, "/chat/completions"), self.body(call))

    def embeddings_request(self, call: Call) -> ProviderRequest:
        return ProviderRequest(self.path(call, "/embeddings"), self.body(call))

    def path(self, call: Call, endpoint: str) -> str:
        return api_path(call.target, "/v1", endpoint)

    def body(self, call: Call) -> Any:
        """The client's body, with the target's model; the raw bytes when nothing changes."""
        dropped = [name for name in self.dropped_fields if name in call.body]
        usage = self.hides_usage(call)
        if call.raw and call.body.get("model") == call.model and not dropped and not usage:
            return call.raw
        body = {k: v for k, v in call.body.items() if k not in dropped}
        body["model"] = call.model
        if usage:
            options = body.get("stream_options")
            body["stream_options"] = {**(options if isinstance(options, dict) else {})}
            body["stream_options"]["include_usage"] = True
        return json.dumps(body).encode()


class MistralAdapter(OpenAIAdapter):
    """Mistral's API is OpenAI's without `stream_options`: a stream's usage comes in its last
    chunk with choices, moved to a chunk of its own when the client asked for it."""

    name = "mistral"
    dropped_fields = ("stream_options",)
    asks_stream_usage = False

    def translates_answer(self, call: Call) -> bool:
        return call.stream

    def chat_stream(self, call: Call, settle: Settle) -> MistralStream:
        return MistralStream(call, settle)


class AzureAdapter(OpenAIAdapter):
    """`{endpoint}/openai/deployments/{deployment}/...?api-version=`: the deployment of the
    model (the target's `deployments`, else the model's own name)."""

    name = "azure"

    def chat_request(self, call: Call) -> ProviderRequest:
        return self.deployment_request(call, "chat/completions")

    def embeddings_request(self, call: Call) -> ProviderRequest:
        return self.deployment_request(call, "embeddings")

    def deployment_request(self, call: Call, endpoint: str) -> ProviderRequest:
        deployment = quote(call.options.deployments.get(call.model, call.model), safe="")
        path = api_path(call.target, "", f"/openai/deployments/{deployment}/{endpoint}")
        version = call.options.api_version or AZURE_API_VERSION
        return ProviderRequest(path, self.body(call), query={"api-version": version})


class MistralStream(SSETranslator):
    """OpenAI chunks already: passed on as they are, but for the usage (see MistralAdapter)."""

    def event(self, event: SSEEvent) -> bytes:
        if event.data == DONE:
            return self.close()
        data = event.json()
        if not isinstance(data, dict):
            return b""
        if data.get("id") and data["id"] != self.out.id:
            self.out.id = data["id"]  # the usage chunk keeps the stream's id
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
            data["usage"] = None
        elif not self.call.include_usage:
            return event.encode()
        if not self.call.include_usage:
            data.pop("usage")
        return json_event(data).encode()


class UsageStream(SSETranslator):
    """OpenAI chunks passed on as they are, but for the usage-only chunk (`choices: []`) the
    gateway asked for and the client did not: its usage is settled, the chunk not relayed."""

    def event(self, event: SSEEvent) -> bytes:
        if event.data == DONE:
            return self.close()
        data = event.json()
        if not isinstance(data, dict) or not isinstance(data.get("usage"), dict):
            return event.encode()
        self.usage = data["usage"]
        if not data.get("choices"):
            return b""
        data.pop("usage")
        return json_event(data).encode()
