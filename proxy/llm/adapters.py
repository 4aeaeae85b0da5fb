"""The adapter of each provider of the catalogue."""

from __future__ import annotations

from collections.abc import Mapping

from proxy.llm.anthropic import AnthropicAdapter
from proxy.llm.base import Adapter
from proxy.llm.bedrock import BedrockAdapter
from proxy.llm.gemini import GeminiAdapter
from proxy.llm.openai import AzureAdapter, MistralAdapter, OpenAIAdapter

ADAPTERS: Mapping[str, Adapter] = {
    adapter.name: adapter
    for adapter in (
        OpenAIAdapter(),
        MistralAdapter(),
        AzureAdapter(),
        AnthropicAdapter(),
        GeminiAdapter(),
        BedrockAdapter(),
    )
}
