"""OpenAI, Mistral and any OpenAI-compatible server (vLLM, Ollama...), and Azure OpenAI: the
request is OpenAI's already; only the model, path and (Azure) deployment change."""

from __future__ import annotations

import json
from typing import Any

from proxy.llm.base import Adapter
from proxy.llm.wire import Call, ProviderRequest, api_path

AZURE_API_VERSION = "2024-10-21"


class OpenAIAdapter(Adapter):
    name = "openai"
    translates = False
    dropped_fields: tuple[str, ...] = ()

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
    """Mistral's API is OpenAI's, without `stream_options` (it reports usage in the last chunk)."""

    name = "mistral"
    dropped_fields = ("stream_options",)


class AzureAdapter(OpenAIAdapter):
    """`{endpoint}/openai/deployments/{deployment}/...?api-version=`: the deployment of the
    model (the target's `deployments`, else the model's own name)."""

    name = "azure"

    def chat_request(self, call: Call) -> ProviderRequest:
        return self.deployment_request(call, "chat/completions")

    def embeddings_request(self, call: Call) -> ProviderRequest:
        return self.deployment_request(call, "embeddings")

    def deployment_request(self, call: Call, endpoint: str) -> ProviderRequest:
        deployment = call.options.deployments.get(call.model, call.model)
        path = api_path(call.target, "", f"/openai/deployments/{deployment}/{endpoint}")
        version = call.options.api_version or AZURE_API_VERSION
        return ProviderRequest(path, self.body(call), query={"api-version": version})
