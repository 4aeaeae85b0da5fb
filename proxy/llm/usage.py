"""Token usage reported by LLM providers, in JSON bodies and in streamed (SSE) answers,
normalised to prompt/completion/total tokens whatever the provider's field names, with the
answer's finish reasons, and what it costs at a target's prices (a cut stream: what it
delivered)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateways.providers import PROVIDERS
from plugins.sdk.context import LLMCall
from plugins.sdk.llm_content import CHARS_PER_TOKEN

# Where answers report usage (`usage`, Gemini's `usageMetadata`) and each provider's usage field
# -> the normalised name, from the provider table.
USAGE_KEYS = tuple(dict.fromkeys(provider.usage_key for provider in PROVIDERS.values()))
USAGE_FIELDS = {
    name: normalised
    for provider in PROVIDERS.values()
    for name, normalised in provider.usage_fields.items()
}
# The fields as merge_usage reads them: (name, outer, inner, normalised); a dotted name
# (`prompt_tokens_details.cached_tokens`) is read inside its outer field, split once here.
USAGE_READS = tuple(
    (name, *(name.split(".", 1) if "." in name else (name, None)), normalised)
    for name, normalised in USAGE_FIELDS.items()
)
USAGE_MARKERS = tuple(f'"{key}"'.encode() for key in USAGE_KEYS)
MAX_PENDING_LINE = 256 * 1024
MAX_JSON_BODY = 8 * 1024 * 1024
# The answer's text in streamed events (OpenAI's chunks and Responses deltas, Anthropic's and
# Gemini's events): string values of these keys, found in the raw event (~2.5 us on a chunk,
# less than parsing it); a Responses event other than a delta repeats the text of its deltas.
TEXT_VALUES = re.compile(
    rb'"(?:content|text|delta|arguments|reasoning_content|partial_json|thinking)"\s*:\s*'
    rb'"([^"\\]*(?:\\.[^"\\]*)*)"'  # unrolled: ~2x the alternation's speed
)
REPEATS_TEXT = re.compile(rb'"type"\s*:\s*"response\.[\w.]*(?<!\.delta)"')
# Why an answer ended (OpenAI's choices, Anthropic's message, Gemini's candidates), when an
# event says it (not null); settled beside the counts under FINISH_REASONS.
FINISH_VALUE = re.compile(rb'"(?:finish_reason|stop_reason|finishReason)"\s*:\s*"')
FINISH_REASONS = "finish_reasons"
# The names of a usage already normalised (the stream meter's): no provider field of these names
# means another, so merging such a usage again would change nothing.
NORMALISED_NAMES = frozenset((*USAGE_FIELDS.values(), FINISH_REASONS))


def parse_json(data: bytes | bytearray) -> Any:
    """An upstream body or event as JSON, for its usage only (orjson: ~5x the json module on a
    2 KB answer, nesting bounded in C); None when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:  # a ValueError; invalid UTF-8 and too deep included
        return None


def merge_usage(usage: dict[str, int], payload: Any) -> None:
    """Take the token counts of a response body or event, normalised: later counts replace
    earlier ones (Anthropic's message_delta after message_start, Gemini's last chunk)."""
    if not isinstance(payload, dict):
        return
    holders = (payload, payload.get("message"), payload.get("response"))
    found = [h.get(key) for key in USAGE_KEYS for h in holders if isinstance(h, dict)]
    for counts in found:
        if isinstance(counts, dict):
            for name, outer, inner, normalised in USAGE_READS:
                if name in counts:
                    value = counts[name]
                elif inner is None or not isinstance(holder := counts.get(outer), dict):
                    continue
                else:
                    value = holder.get(inner)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    usage[normalised] = value


def finish_reasons(payload: Any) -> list[str]:
    """The finish reasons an answer or streamed event reports, as the provider names them."""
    if not isinstance(payload, dict):
        return []
    found = [
        item.get(key)
        for items, key in (
            (payload.get("choices"), "finish_reason"),
            (payload.get("candidates"), "finishReason"),
        )
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict)
    ]
    holders = (payload, payload.get("delta"), payload.get("message"))
    found += [holder.get("stop_reason") for holder in holders if isinstance(holder, dict)]
    return [reason for reason in found if isinstance(reason, str) and reason]


def usage_counts(usage: Mapping[str, Any]) -> dict[str, int]:
    """The normalised counts of a usage in OpenAI's shape (its details lifted: cached_tokens,
    cache_write_tokens, reasoning_tokens) or already normalised (as the stream meter's: then
    read as it is, which is what merging it would give)."""
    counts = {name: value for name, value in usage.items() if isinstance(value, int)}
    if not usage.keys() <= NORMALISED_NAMES:
        merge_usage(counts, {"usage": usage})
    return counts


def total_tokens(usage: Mapping[str, int]) -> int | None:
    """The reported total, else prompt plus completion; None when nothing was reported."""
    if "total_tokens" in usage:
        return usage["total_tokens"]
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    return None


def settle_usage(call: LLMCall, usage: Mapping[str, Any] | None, pricing: Pricing | None) -> None:
    """Put reported usage on the call (counts reported later replace earlier ones; a count not
    reported keeps its value), its finish reasons (`usage[FINISH_REASONS]`, when read), and its
    cost when the target is priced (prompt tokens read from or written to the prompt cache at
    their prices). Settling the same usage again changes nothing: JSON answers, translated
    streams and the stream meter may all report."""
    if not usage:
        return
    if reasons := usage.get(FINISH_REASONS):
        call.finish_reasons = tuple(reasons)
    usage = usage_counts(usage)
    if not usage:
        return
    call.prompt_tokens = usage.get("prompt_tokens", call.prompt_tokens)
    call.completion_tokens = usage.get("completion_tokens", call.completion_tokens)
    call.cached_tokens = usage.get("cached_tokens", call.cached_tokens)
    call.reasoning_tokens = usage.get("reasoning_tokens", call.reasoning_tokens)
    call.total_tokens = total_tokens(usage)
    if pricing is not None and (call.prompt_tokens is not None or call.completion_tokens):
        call.cost = pricing.cost(
            call.prompt_tokens or 0,
            call.completion_tokens or 0,
            cached=usage.get("cached_tokens", 0),
            cache_write=usage.get("cache_write_tokens", 0),
        )


@dataclass(frozen=True)
class Pricing:
    """A target's prices, per million tokens; prompt tokens read from the prompt cache and
    written to it cost the input price unless priced apart."""

    input_per_million: float
    output_per_million: float
    cached_input_per_million: float | None = None
    cache_write_per_million: float | None = None

    def cost(
        self, prompt_tokens: int, completion_tokens: int, *, cached: int = 0, cache_write: int = 0
    ) -> float:
        """The cost of a call; `cached` and `cache_write` are part of `prompt_tokens`."""
        cached = min(cached, prompt_tokens)
        cache_write = min(cache_write, prompt_tokens - cached)
        cached_price = self.cached_input_per_million
        write_price = self.cache_write_per_million
        cost = (
            (prompt_tokens - cached - cache_write) * self.input_per_million
            + cached * (self.input_per_million if cached_price is None else cached_price)
            + cache_write * (self.input_per_million if write_price is None else write_price)
            + completion_tokens * self.output_per_million
        )
        return round(cost / 1_000_000, 10)


@dataclass
class UsageScanner:
    """Finds usage in a streamed body: in SSE `data:` lines (which chunk boundaries may split),
    or, when the body is a JSON document sent in chunks, in the whole document at the end.
    Memory is bounded: one partial SSE line, or a JSON body up to MAX_JSON_BODY."""

    usage: dict[str, int] = field(default_factory=dict)
    delivered: int = 0  # characters of answer text in the SSE events seen
    finish_reasons: list[str] = field(default_factory=list)
    mode: str = ""  # "sse" or "json", decided by the first bytes; "ignored" when too large
    pending: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside an overlong SSE line, which cannot be a usage event

    def feed(self, chunk: bytes) -> None:
        if not self.mode:
            self._detect(chunk)
        elif self.mode == "json":
            self._feed_json(chunk)
        elif self.mode == "sse":
            self._feed_sse(chunk)

    def finish(self) -> None:
        """The stream ended: its last line may lack a newline."""
        if self.mode == "json":
            answer = parse_json(self.pending)
            merge_usage(self.usage, answer)
            self.finish_reasons += finish_reasons(answer)
        elif self.mode == "sse" and not self.skipping:
            self._line(self.pending)
        self.pending = bytearray()

    def _detect(self, chunk: bytes) -> None:
        start = chunk.lstrip()
        if not start:
            self.pending += chunk  # leading whitespace only: wait for the first byte
            return
        self.mode = "json" if start[:1] in (b"{", b"[") else "sse"
        self.feed(chunk)

    def _feed_json(self, chunk: bytes) -> None:
        if len(self.pending) + len(chunk) > MAX_JSON_BODY:
            self.pending, self.mode = bytearray(), "ignored"
            return
        self.pending += chunk

    def _feed_sse(self, chunk: bytes) -> None:
        start = 0
        while (newline := chunk.find(b"\n", start)) >= 0:
            if self.skipping:
                self.skipping = False
            else:
                self.pending += chunk[start:newline]
                self._line(self.pending)
            self.pending.clear()
            start = newline + 1
        if not self.skipping:
            self.pending += chunk[start:]
            if len(self.pending) > MAX_PENDING_LINE:
                self.pending.clear()
                self.skipping = True

    def _line(self, line: bytearray) -> None:
        line = line.strip()
        if not line.startswith(b"data:"):
            return
        event = None
        if any(marker in line for marker in USAGE_MARKERS):
            merge_usage(self.usage, event := parse_json(line[5:]))
        if FINISH_VALUE.search(line):
            self.finish_reasons += finish_reasons(event or parse_json(line[5:]))
        self.delivered += delivered_text(line)


def delivered_text(line: bytes | bytearray) -> int:
    """The characters of answer text a streamed event carries, about (escapes and UTF-8 bytes
    count as they are sent)."""
    if b'"response.' in line and REPEATS_TEXT.search(line):
        return 0
    return sum(len(value) for value in TEXT_VALUES.findall(line))


Transform = Callable[[bytes], bytes]


class StreamMeter:
    """Usage of a streamed answer: each chunk is scanned as it passes (SSE events or a chunked
    JSON body); `finish` hands the totals to `settle` when the stream ends. `prompt_tokens` is
    the prompt's count when no usage reports it (an estimate, asked only then)."""

    def __init__(
        self, settle: Callable[[Mapping[str, Any]], None], prompt_tokens: Callable[[], int]
    ) -> None:
        self.settle = settle
        self.prompt_tokens = prompt_tokens
        self.scanner = UsageScanner()

    def wrap(self, transform: Transform | None) -> Transform:
        """`transform` (the chunk hooks), after the meter has seen the upstream's chunk."""
        feed = self.scanner.feed

        def metered(chunk: bytes) -> bytes:
            feed(chunk)
            return transform(chunk) if transform is not None else chunk

        return metered

    def finish(self, *, cut: bool = False) -> None:
        """The stream ended; `cut` before its end (by the upstream or the client): without the
        completion's usage, what was delivered is settled, its text at ~4 characters a token."""
        self.scanner.finish()
        usage: dict[str, Any] = self.scanner.usage
        if cut and "completion_tokens" not in usage:
            delivered = math.ceil(self.scanner.delivered / CHARS_PER_TOKEN)
            usage = {"prompt_tokens": self.prompt_tokens(), **usage, "completion_tokens": delivered}
            usage.pop("total_tokens", None)
        if self.scanner.finish_reasons:
            usage = {**usage, FINISH_REASONS: self.scanner.finish_reasons}
        self.settle(usage)
