"""Benchmark knobs: quick and full modes, concurrency levels, durations, paths, payloads."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"

JSON_BODY = {"status": "ok", "service": "mock-upstream", "items": [1, 2, 3]}
CHAT_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    "max_tokens": 16,
}
# The same request in the Responses API's shape (row (e'), translated to Anthropic's like (e)).
RESPONSES_REQUEST = {
    "model": "gpt-4o-mini",
    "input": "Say hello in one short sentence.",
    "max_output_tokens": 16,
}
# What the SSE rows send: the same chat request, streamed.
STREAMED_CHAT_REQUEST = CHAT_REQUEST | {"stream": True}
CHAT_COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 14, "completion_tokens": 3, "total_tokens": 17},
}
# A chat prompt of 4 KB of ordinary prose: what content plugins (detectors, masking) cost on a
# realistic prompt. Mentions of select, drop and scripts on purpose: it must pass them all.
CHAT_4K_SENTENCES = (
    "I'm preparing the quarterly business review for our customer success team.",
    "We cover renewals, expansion revenue, support ticket trends and product adoption.",
    "Last quarter we renewed 92% of accounts, expanded 14 of them and closed 1,240 tickets.",
    "The median first response time was 2 hours, down from 3.5 hours the quarter before.",
    "Two enterprise customers asked us to drop the legacy export format by December.",
    "Please select the three most important points for the executive audience.",
    "Suggest a chart for each point and say which data we need to build it.",
    "Our onboarding script for new admins was rewritten in May; adoption rose by 18%.",
    "Churn is concentrated in accounts with fewer than ten seats and no champion.",
    "The support team wants a self-service page for password resets and SSO questions.",
    "Finance will review the pricing change for the Pro plan (from $49 to $59 per seat).",
    "Draft an executive summary of about 200 words, then a one-line headline.",
    "Keep the tone factual and avoid jargon; the board is not technical.",
    "Mention the risks: two renewals at risk in EMEA and a delayed integration.",
)
CHAT_4K_MESSAGE = (" ".join(CHAT_4K_SENTENCES) + " ") * 4
CHAT_4K_MESSAGE = CHAT_4K_MESSAGE[:4096].rsplit(" ", 1)[0].ljust(4096, ".")
CHAT_4K_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": CHAT_4K_MESSAGE}],
    "max_tokens": 16,
}
# Sent with every request of every row, so each row sees the same payload.
ORIGIN = "https://example.com"
SSE_EVENTS = 20
SSE_INTERVAL_SECONDS = 0.05
# The many-streams row: this many SSE streams opened at once through gateway (a), each long
# enough (events x interval = 3 s) for all of them to be open together.
MANY_STREAMS = 2000
MANY_STREAMS_EVENTS = 60
MANY_STREAMS_TARGET = "gateway-a"
# The public overhead method (bench/overhead.py), as llm-gateway-bench publishes it: 7
# interleaved rounds of 25 sequential requests per row after 15 warm-up requests, both modes.
OVERHEAD_ROUNDS = 7
OVERHEAD_PER_ROUND = 25
OVERHEAD_WARMUP = 15


def compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass(frozen=True)
class Workload:
    """One kind of request sent by wrk: method, path and body."""

    name: str
    method: str
    path: str
    body: str = ""


WORKLOADS = (
    Workload("json", "GET", "/json"),
    Workload("chat", "POST", "/v1/chat/completions", compact_json(CHAT_REQUEST)),
    Workload("chat4k", "POST", "/v1/chat/completions", compact_json(CHAT_4K_REQUEST)),
    Workload("responses", "POST", "/v1/responses", compact_json(RESPONSES_REQUEST)),
)
# Workloads only the rows that name them measure (the others have no such endpoint).
OPT_IN_WORKLOADS = frozenset({"responses"})


# Quick mode measures this workload at every concurrency, the others at the first one only.
QUICK_EVERY_CONCURRENCY = "chat"
# Quick mode measures every row on the chat request at c=1; elsewhere only the rows the
# top-level README's table shows (chat at c=16: the references, nginx, (a), (b), the LLM front
# and the peers; the 4 KB prompt: key only, masking, injection protection) and, for GET /json,
# the references and (a). A workload and concurrency missing here: every row.
QUICK_ROWS: dict[tuple[str, int], frozenset[str]] = {
    ("json", 1): frozenset({"direct", "nginx", "gateway-a"}),
    ("chat", 16): frozenset(
        {
            *("direct", "direct-llm", "nginx", "gateway-a", "gateway-b"),
            *("gateway-llm-openai", "gateway-llm-anthropic", "gateway-llm-cached"),
            *("litellm-master", "litellm-limited", "portkey"),
        }
    ),
    ("chat4k", 1): frozenset({"direct", "gateway-k", "gateway-m", "gateway-threats"}),
}
# Quick mode's SSE rows: those the top-level README quotes (direct, nginx, (a), the LLM front
# unchanged and translated) and (b) and the Responses stream; full mode streams through every row.
QUICK_SSE_ROWS = frozenset(
    {
        *("direct", "nginx", "gateway-a", "gateway-b"),
        *("gateway-llm-openai", "gateway-llm-anthropic", "gateway-llm-responses"),
    }
)


@dataclass(frozen=True)
class BenchConfig:
    """How long and how hard to measure; `quick` trades precision for a run under 5 minutes on
    2 cores: short runs, the workloads other than chat at the first concurrency only, and
    beyond chat at c=1 only the rows the top-level README shows (QUICK_ROWS)."""

    python: Path
    quick: bool
    concurrencies: tuple[int, ...]
    warmup_seconds: int
    measure_seconds: int
    sse_samples: int
    profile_seconds: int
    gateway_workers: int = 2
    peers: bool = False  # BENCH_PEERS=1: LiteLLM and Portkey beside the gateway (bench/peers.py)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def concurrencies_of(self, workload: str) -> tuple[int, ...]:
        """The concurrencies `workload` is measured at."""
        if self.quick and workload != QUICK_EVERY_CONCURRENCY:
            return self.concurrencies[:1]
        return self.concurrencies

    def streams(self, row: str) -> bool:
        """Whether `row` gets SSE streams measured (quick mode: QUICK_SSE_ROWS only)."""
        return not self.quick or row in QUICK_SSE_ROWS

    def includes(self, workload: str, concurrency: int, row: str) -> bool:
        """Whether `row` is measured on `workload` at `concurrency` (quick mode leaves some out)."""
        if not self.quick:
            return True
        rows = QUICK_ROWS.get((workload, concurrency))
        return rows is None or row in rows


def flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def load_config() -> BenchConfig:
    """The configuration for this run, from BENCH_QUICK and BENCH_PEERS in the environment."""
    quick, peers = flag("BENCH_QUICK"), flag("BENCH_PEERS")
    python = Path(sys.executable)
    if quick:
        return BenchConfig(
            python=python,
            quick=True,
            concurrencies=(1, 16),
            warmup_seconds=1,
            measure_seconds=2,
            sse_samples=3,
            profile_seconds=4,
            peers=peers,
        )
    return BenchConfig(
        python=python,
        quick=False,
        concurrencies=(1, 16, 64),
        warmup_seconds=2,
        measure_seconds=10,
        sse_samples=10,
        profile_seconds=10,
        peers=peers,
    )
