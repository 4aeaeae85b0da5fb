"""OpenAI, Mistral and any OpenAI-compatible server (vLLM, Ollama...), and Azure OpenAI: the
request is OpenAI's already; only the model, path and (Azure) deployment change."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from plugins.sdk.sse import DONE, SSEEvent, json_event
from proxy.llm.base import Adapter
from proxy.llm.streams import SSETranslator
from proxy.llm.wire import Call, ProviderRequest, Settle, api_path

AZURE_API_VERSION = "2024-10-21"


class OpenAIAdapter(Adapter):
    name = "openai"
    dropped_fields: tuple[str, ...] = ()

    def translates_answer(self, call: Call) -> bool:
        return False

    def chat_request(self, call: Call) -> ProviderRequest:
        return ProviderRequest(self.path(call, "/chat/completions"), self.body(call))

    def embeddings_request(self, call: Call) -> ProviderRequest:
        return ProviderRequest(self.path(call, "/embeddings"), self.body(call))

    def path(self, call: Call, endpoint: str) -> str:
        return api_path(call.target, "/v1", endpoint)

    def body(self, call: Call) -> Any:
        """The client's body, with the target's model; the raw bytes when nothing changes."""
        dropped = [name for name in self.dropped_fields if name in call.body]
        if call.raw and call.body.get("model") == call.model and not dropped:
            return call.raw
        body = {k: v for k, v in call.body.items() if k not in dropped}
        body["model"] = call.model
        return json.dumps(body).encode()


class MistralAdapter(OpenAIAdapter):
    """Mistral's API is OpenAI's without `stream_options`: a stream's usage comes in its last
    chunk with choices, moved to a chunk of its own when the client asked for it."""

    name = "mistral"
    dropped_fields = ("stream_options",)

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
