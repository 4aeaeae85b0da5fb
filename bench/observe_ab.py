"""What metrics + access log cost through gunicorn: gateway (a) with both on and with both off.

One wrk run per row cannot show a 5 % difference on a VM whose runs drift by more than that, so
the two servers are measured in alternating rounds (on, off, then off, on, ...) at each
concurrency, and the medians compared: drift of the machine falls on both sides alike.
"""

from __future__ import annotations

import dataclasses
import statistics
from functools import partial
from pathlib import Path
from typing import Any

from bench.config import WORKLOADS, BenchConfig
from bench.logs import log
from bench.measure import Measurement, alternating_rounds, first_failure, measure_row
from bench.scenarios import Target

ON, OFF = "gateway-a", "gateway-a-unobserved"
WORKLOAD = next(w for w in WORKLOADS if w.name == "chat")
CONCURRENCIES = (1, 16)
ROUND_SECONDS = {"quick": 2, "full": 5}
ROUNDS = {"quick": 2, "full": 6}


def measure_observe_cost(
    config: BenchConfig, targets: list[Target], scripts: Path, api_key: str
) -> dict[str, Any]:
    """Alternating rounds of the observed and unobserved gateway (a); medians per concurrency."""
    pair = {t.key: t for t in targets if t.key in (ON, OFF)}
    broken = [t.broken for t in pair.values() if t.broken] or ([] if len(pair) == 2 else ["no"])
    if broken:
        return {"status": "skipped", "reason": broken[0]}
    rounds, seconds = ROUNDS[config.mode], ROUND_SECONDS[config.mode]
    short = dataclasses.replace(config, warmup_seconds=1, measure_seconds=seconds)
    summary: dict[str, Any] = {"status": "ok", "workload": WORKLOAD.name, "rounds": rounds}
    summary |= {"round_seconds": seconds, "by_concurrency": []}
    for concurrency in CONCURRENCIES:
        samples = alternating_rounds(
            [pair[ON], pair[OFF]],
            rounds,
            partial(
                measure_row,
                workload=WORKLOAD,
                concurrency=concurrency,
                config=short,
                scripts=scripts,
                api_key=api_key,
            ),
        )
        failed = first_failure(samples)
        if failed is not None:
            return {"status": failed.status, "reason": failed.reason or "non-2xx answers"}
        compared = compare(concurrency, samples[ON], samples[OFF])
        log(f"observability cost c={concurrency}: {compared}")
        summary["by_concurrency"].append(compared)
    return summary


def compare(concurrency: int, on: list[Measurement], off: list[Measurement]) -> dict[str, Any]:
    """Medians of each side and the observed side's change against the unobserved one."""
    medians = {}
    for side, rows in (("on", on), ("off", off)):
        medians[f"rps_{side}"] = statistics.median(r.rps for r in rows)
        medians[f"cpu_us_{side}"] = statistics.median(r.cpu_us_per_request or 0 for r in rows)
        medians[f"p50_ms_{side}"] = statistics.median(r.latency_ms["50"] for r in rows)
    return {
        "concurrency": concurrency,
        **{name: round(value, 3) for name, value in medians.items()},
        "rps_change_pct": percent_change(medians["rps_on"], medians["rps_off"]),
        "cpu_change_pct": percent_change(medians["cpu_us_on"], medians["cpu_us_off"]),
        "p50_added_ms": round(medians["p50_ms_on"] - medians["p50_ms_off"], 3),
        "rps_on_rounds": [r.rps for r in on],
        "rps_off_rounds": [r.rps for r in off],
    }


def percent_change(value: float, baseline: float) -> float | None:
    return round((value / baseline - 1) * 100, 1) if baseline else None
