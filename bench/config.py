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
# A 4 KB chat prompt of plain English prose (content plugins scan every character of it).
PROSE = (
    "Please read the following notes from our planning meeting and write a short summary. "
    "The team agreed that the new onboarding guide should be shorter and easier to follow, "
    "with one page for each step and a clear checklist at the end. Several people asked for "
    "more examples, especially for the parts that explain how accounts are set up and how "
    "the first project is created. We also talked about the support rota for the holidays, "
    "the budget for the spring conference and the plan to move the weekly call to Thursday "
    "afternoon so that colleagues in other time zones can join without staying up late. "
)
CHAT_4K_REQUEST = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": (PROSE * 8)[:4096]}],
    "max_tokens": 16,
}
# Sent with every request of every row, so each row sees the same payload.
ORIGIN = "https://example.com"
SSE_EVENTS = 20
SSE_INTERVAL_SECONDS = 0.05


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
)


@dataclass(frozen=True)
class BenchConfig:
    """How long and how hard to measure; `quick` trades precision for a run under 2 minutes."""

    python: Path
    quick: bool
    concurrencies: tuple[int, ...]
    warmup_seconds: int
    measure_seconds: int
    sse_samples: int
    profile_seconds: int
    gateway_workers: int = 2

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"


def load_config() -> BenchConfig:
    """The configuration for this run, from BENCH_QUICK in the environment."""
    quick = os.environ.get("BENCH_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}
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
        )
    return BenchConfig(
        python=python,
        quick=False,
        concurrencies=(1, 16, 64),
        warmup_seconds=2,
        measure_seconds=10,
        sse_samples=10,
        profile_seconds=10,
    )
