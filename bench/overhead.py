"""The public overhead method (llm-gateway-bench's `data/overhead.json`) for every chat row.

Sequential chat requests on a keep-alive connection per row (opened anew, untimed, before
each row's turn): a warm-up, then rounds in which every row sends `per_round` requests in
turn (every other round in reverse order); per row and round the median, then the median of
the round medians. A row's added latency is the median over rounds of its round median minus
its reference's (the mock it reaches, measured in the same round), with the interquartile
range of those differences. Percentiles interpolate linearly, as the method's do. Not a load
test: one request at a time.
"""

from __future__ import annotations

import http.client
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.config import CHAT_REQUEST, compact_json
from bench.scenarios import LLM_ROWS, Target

PATH = "/v1/chat/completions"
BODY = compact_json(CHAT_REQUEST)
TIMEOUT_SECONDS = 15
DIRECT, DIRECT_LLM = "direct", "direct-llm"
# The rows measured, in order; each LLM front row against the LLM mock, the others against
# the nginx mock (LiteLLM and Portkey are routed to it too).
LLM_FRONT = tuple(key for key, _, _ in LLM_ROWS)
ROWS = (
    DIRECT,
    DIRECT_LLM,
    "nginx",
    "gateway-a",
    "gateway-b",
    *LLM_FRONT,
    "litellm-master",
    "litellm-limited",
    "portkey",
)


def reference_of(key: str) -> str:
    """The row a row's added latency is measured against ('' for the references)."""
    if key in (DIRECT, DIRECT_LLM):
        return ""
    return DIRECT_LLM if key in LLM_FRONT else DIRECT


def percentile(samples: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linearly interpolated between the closest ranks."""
    ordered = sorted(samples)
    index = min(100.0, max(0.0, p)) / 100 * (len(ordered) - 1)
    low, high = math.floor(index), math.ceil(index)
    return ordered[low] + (ordered[high] - ordered[low]) * (index - low)


def r2(value: float) -> float:
    return round(value, 2)


def summarize(samples: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        **{f"p{p}": r2(percentile(samples, p)) for p in (50, 90, 99)},
        "min": r2(min(samples)),
        "max": r2(max(samples)),
    }


def verdict(reference_rounds: list[list[float]], rounds: list[list[float]]) -> dict[str, Any]:
    """Median of round medians for both, and the median and IQR of the per-round differences."""
    reference = [percentile(samples, 50) for samples in reference_rounds]
    own = [percentile(samples, 50) for samples in rounds]
    added = [ours - theirs for ours, theirs in zip(own, reference, strict=True)]
    return {
        "rounds": len(own),
        "reference_ms": r2(percentile(reference, 50)),
        "row_ms": r2(percentile(own, 50)),
        "added_ms": r2(percentile(added, 50)),
        "added_iqr_ms": [r2(percentile(added, 25)), r2(percentile(added, 75))],
    }


class RowFailed(Exception):
    """A request of the row failed or answered outside 2xx."""


@dataclass
class Client:
    """One keep-alive connection to a row, timing each chat request to its last body byte."""

    target: Target
    headers: dict[str, str]
    connection: http.client.HTTPConnection = field(init=False)

    def __post_init__(self) -> None:
        self.connection = http.client.HTTPConnection(
            "127.0.0.1", self.target.port, timeout=TIMEOUT_SECONDS
        )

    def once(self) -> float:
        """Milliseconds from sending the request to having read the whole answer."""
        started = time.perf_counter()
        try:
            self.connection.request("POST", PATH, BODY, self.headers)
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()
            raise RowFailed(f"request failed: {exc}") from exc
        elapsed = (time.perf_counter() - started) * 1000
        if not 200 <= response.status < 300:
            raise RowFailed(f"HTTP {response.status}")
        return elapsed

    def burst(self, count: int) -> list[float]:
        """`count` requests in a row on a connection opened before them (untimed): a server may
        close a connection left idle while the other rows ran (Node's and uvicorn's after 5 s),
        as a keep-alive client's pool would not reuse it."""
        self.connection.close()
        try:
            self.connection.connect()
        except OSError as exc:
            raise RowFailed(f"connect failed: {exc}") from exc
        return [self.once() for _ in range(count)]

    def close(self) -> None:
        self.connection.close()


def chat_rows(targets: list[Target]) -> list[Target]:
    by_key = {target.key: target for target in targets}
    return [by_key[key] for key in ROWS if key in by_key and by_key[key].measures("chat")]


def measure_overhead(
    targets: list[Target], api_key: str, rounds: int, per_round: int, warmup: int
) -> dict[str, Any]:
    """The method's rows for every chat row of `targets` present (a failing row stops alone)."""
    rows = chat_rows(targets)
    failed = {target.key: target.broken for target in rows if target.broken}
    clients = {
        target.key: Client(target, target.headers(api_key) | {"Connection": "keep-alive"})
        for target in rows
        if not target.broken
    }
    samples: dict[str, list[list[float]]] = {key: [] for key in clients}

    def run(key: str, count: int) -> list[float]:
        try:
            return clients[key].burst(count)
        except RowFailed as exc:
            failed[key] = str(exc)
            clients.pop(key).close()
            return []

    try:
        for key in list(clients):
            run(key, warmup)
        for index in range(rounds):
            order = list(clients) if index % 2 == 0 else list(clients)[::-1]
            for key in order:
                if key in clients:
                    samples[key].append(run(key, per_round))
    finally:
        for client in clients.values():
            client.close()
    return {
        "method": {"rounds": rounds, "per_round": per_round, "warmup": warmup},
        "rows": [row_result(target, samples, failed) for target in rows],
    }


def row_result(
    target: Target, samples: dict[str, list[list[float]]], failed: dict[str, str]
) -> dict[str, Any]:
    reference = reference_of(target.key)
    row = {"target": target.key, "label": target.label, "reference": reference}
    if target.key in failed:
        status = "skipped" if target.broken else "failed"
        return row | {"status": status, "reason": failed[target.key]}
    own = samples[target.key]
    summary = {"summary": summarize([value for burst in own for value in burst])}
    if not reference:
        median = r2(percentile([percentile(burst, 50) for burst in own], 50))
        return row | {"status": "ok", "rounds": len(own), "row_ms": median} | summary
    if reference in failed or reference not in samples:
        why = failed.get(reference) or "not measured"
        return row | {"status": "skipped", "reason": f"reference {reference}: {why}"}
    return row | {"status": "ok"} | verdict(samples[reference], own) | summary
