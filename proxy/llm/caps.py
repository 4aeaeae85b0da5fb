"""What a chat request asks beyond a plain answer, as the translating adapters read it: prompt-cache
marks (`cache_control`), reasoning (`reasoning_effort`) and several answers (`n`); and the usage
details they report back (cached, cache-write and reasoning tokens)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.llm.wire import InvalidRequest, parts_of

# The thinking budget (tokens) of each `reasoning_effort`; "none" turns thinking off.
REASONING_BUDGETS = {"none": 0, "minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
MIN_THINKING_BUDGET = 1024  # Anthropic's (on Bedrock too)
CACHE_TTLS = ("5m", "1h")


def reasoning_budget(body: Mapping[str, Any]) -> int | None:
    """The thinking budget `reasoning_effort` asks for (0: none), None when it is not set."""
    effort = body.get("reasoning_effort")
    if effort is None:
        return None
    if effort not in REASONING_BUDGETS:
        names = ", ".join(REASONING_BUDGETS)
        raise InvalidRequest(f"reasoning_effort: must be one of {names}", "reasoning_effort")
    return REASONING_BUDGETS[effort]


def claude_budget(body: Mapping[str, Any]) -> int:
    """Claude's thinking budget for `reasoning_effort` (0: no thinking). Within a tool loop
    (the last assistant turn called tools) Claude wants that turn to begin with its signed
    thinking block, which OpenAI's messages do not carry back: that request goes without."""
    budget = reasoning_budget(body) or 0
    assistants = [m for m in body["messages"] if m.get("role") == "assistant"]
    return 0 if budget and assistants and assistants[-1].get("tool_calls") else budget


def thinking_limits(budget: int, max_tokens: int | None, default: int) -> tuple[int, int]:
    """(thinking budget, max_tokens) for Claude, whose thinking counts in max_tokens and must
    leave room for the answer: the client's max_tokens bounds the budget (as OpenAI's counts
    reasoning); without one the answer gets `default` tokens beside the budget."""
    if max_tokens is None:
        return budget, budget + default
    budget = min(budget, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"max_tokens: reasoning_effort needs more than {MIN_THINKING_BUDGET} tokens",
            "max_tokens",
        )
    return budget, max_tokens


def answers_asked(body: Mapping[str, Any]) -> int:
    """How many answers (`n`) the request asks for."""
    n = body.get("n")
    if n is None:
        return 1
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise InvalidRequest("n: must be a positive integer", "n")
    return n


def single_answer(body: Mapping[str, Any], provider: str) -> None:
    """Providers that answer once per request refuse `n` above 1 (never silently one answer)."""
    if answers_asked(body) > 1:
        raise InvalidRequest(f"n: provider {provider} gives one answer per request", "n")


def cache_control_of(item: Any, field: str) -> dict[str, str] | None:
    """The prompt-cache mark (`cache_control`, Anthropic's) of a content part, message or
    tool, checked: `{"type": "ephemeral"}`, with an optional `ttl` of 5m or 1h."""
    mark = item.get("cache_control") if isinstance(item, dict) else None
    if mark is None:
        return None
    if not isinstance(mark, dict) or mark.get("type") != "ephemeral":
        raise InvalidRequest(f'{field}.cache_control: must be {{"type": "ephemeral"}}', field)
    if "ttl" in mark and mark["ttl"] not in CACHE_TTLS:
        raise InvalidRequest(f"{field}.cache_control.ttl: must be 5m or 1h", field)
    return {name: mark[name] for name in ("type", "ttl") if name in mark}


def part_marks(message: Mapping[str, Any], field: str) -> list[dict[str, str] | None]:
    """The cache mark of each content part of a message (a message's own mark is its last
    part's)."""
    parts = parts_of(message.get("content"))
    marks = [cache_control_of(part, f"{field}.content[{i}]") for i, part in enumerate(parts)]
    if (own := cache_control_of(message, field)) is not None and marks:
        marks[-1] = own
    return marks


def any_cache_mark(body: Mapping[str, Any]) -> bool:
    """Whether the request marks anything for the prompt cache (most do not: skipped fast)."""
    messages = body.get("messages") or ()
    return any(
        isinstance(item, dict) and "cache_control" in item
        for item in (*messages, *(body.get("tools") or ()))
    ) or any(
        isinstance(part, dict) and "cache_control" in part
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), list)
        for part in message["content"]
    )


def apart_cache_counts(usage: Mapping[str, Any], fields: Mapping[str, str]) -> dict[str, int]:
    """The prompt-cache counts a provider reports apart from its prompt tokens (its table's
    `cache_fields`), by normalised name."""
    return {
        normalised: value
        for name, normalised in fields.items()
        if isinstance(value := usage.get(name), int) and not isinstance(value, bool)
    }


def with_details(
    usage: dict[str, Any], cached: int = 0, cache_write: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    """OpenAI's usage details added to `usage`: `prompt_tokens_details.cached_tokens` (and
    `cache_write_tokens`, as OpenRouter names them), `completion_tokens_details
    .reasoning_tokens`; the prompt and completion tokens count them already."""
    if cached or cache_write:
        details = {"cached_tokens": cached}
        if cache_write:
            details["cache_write_tokens"] = cache_write
        usage["prompt_tokens_details"] = details
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def with_reasoning(answer: dict[str, Any], index: int, text: str) -> None:
    """The reasoning text of choice `index` as its message's `reasoning_content`."""
    if text:
        answer["choices"][index]["message"]["reasoning_content"] = text
