"""What the mock models answer, the same for every provider: an echo of the last user text,
a call of the first tool offered, or an acknowledgement of a tool's result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TOOL_ARGUMENTS = {"city": "Paris"}
# A request whose text holds this gets half its stream, then the connection closes (no end).
CUT = "cut mid-way"
PROMPT_TOKENS = 11
COMPLETION_TOKENS = 7
# Prompt tokens read from and written to the prompt cache when a request marks it (Anthropic's
# cache_control, Bedrock's cachePoint) or, for providers that cache on their own (OpenAI,
# Gemini), when its text holds CACHED; counted apart by Anthropic and Bedrock, within the
# prompt tokens by OpenAI and Gemini (which report reads only).
CACHED = "cached prefix"
CACHED_TOKENS = 415
CACHE_WRITE_TOKENS = 298
# The thought summary a model asked to reason gives before its answer, and its tokens (within
# the completion tokens).
THOUGHT = "Let me think this through."
THOUGHT_TOKENS = 5


@dataclass(frozen=True)
class Reply:
    text: str
    tool: str | None = None  # the tool called, with TOOL_ARGUMENTS

    def pieces(self) -> list[str]:
        """The text in three streamed pieces."""
        third = max(1, len(self.text) // 3)
        return [self.text[:third], self.text[third : 2 * third], self.text[2 * third :]]


def reply(
    provider: str, last_user_text: str, tools: list[str], tool_result: Any, json_asked: bool = False
) -> Reply:
    """`json_asked`: a JSON answer was asked for (OpenAI's response_format, Gemini's
    responseMimeType); TOOL_ARGUMENTS answer it."""
    if json_asked:
        return Reply(json.dumps(TOOL_ARGUMENTS))
    if tool_result is not None:
        return Reply(f"{provider} read the tool result: {tool_result}")
    if tools:
        return Reply("", tools[0])
    return Reply(f"{provider} says: {last_user_text}")


API_KEY = "sk-mock-provider"
AWS_ACCESS_KEY_ID = "AKIAMOCKMOCKMOCK0001"
AWS_SECRET_ACCESS_KEY = "mock/secret/access/key"
AWS_REGION = "eu-west-3"


def streamed_arguments() -> list[str]:
    """TOOL_ARGUMENTS as JSON, in two streamed pieces."""
    text = json.dumps(TOOL_ARGUMENTS)
    return [text[:5], text[5:]]
