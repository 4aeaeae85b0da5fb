"""results.json and results.md: the measurements as markdown tables, with machine and versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.markdown import NO_DATA, fmt, markdown_table, no_data_section, status_text
from bench.peers_report import overhead_section, peers_section

MEASURED_PROCESSES = (
    "CPU s and peak RSS are those of the process under test during the measured run: "
    "the upstream nginx for `direct`, the proxy nginx for `nginx`, the gunicorn master and "
    "workers for the gateway rows (the embedded Redis is not included; its CPU is in "
    "results.json as `redis_cpu_seconds`)."
)
LOAD_COLUMNS = (
    "row",
    "c",
    "req/s (2xx)",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "added p50 ms",
    "added p99 ms",
    "CPU s",
    "CPU µs/req",
    "peak RSS MB",
    "non-2xx",
    "sock err",
    "status",
)
SSE_COLUMNS = (
    "row",
    "TTFB p50 ms",
    "added TTFB p50 ms",
    "TTFB max ms",
    "total p50 ms",
    "total max ms",
    "failed",
    "status",
)


def add_overhead(rows: list[dict[str, Any]]) -> None:
    """Set `added_ms` (p50, p99 minus the direct row's at the same workload and concurrency)."""
    direct = {
        (r["workload"], r["concurrency"]): r["latency_ms"]
        for r in rows
        if r["target"] == "direct" and r["latency_ms"]
    }
    for row in rows:
        base = direct.get((row["workload"], row["concurrency"]))
        if row["target"] != "direct" and base and row["latency_ms"]:
            row["added_ms"] = {q: round(row["latency_ms"][q] - base[q], 3) for q in ("50", "99")}


def load_row(row: dict[str, Any]) -> list[str]:
    if row["status"] in NO_DATA:
        return [row["label"], str(row["concurrency"])] + ["–"] * 11 + [status_text(row)]
    latency, added = row["latency_ms"], row.get("added_ms", {})
    return [
        row["label"],
        str(row["concurrency"]),
        fmt(row["rps"], 0),
        *(fmt(latency.get(q), 3) for q in ("50", "95", "99")),
        *(fmt(added.get(q), 3) for q in ("50", "99")),
        fmt(row["cpu_seconds"]),
        fmt(row["cpu_us_per_request"], 0),
        fmt(row["peak_rss_mb"], 1),
        fmt(row["non2xx"]),
        fmt(row["socket_errors"]),
        status_text(row),
    ]


def add_sse_overhead(rows: list[dict[str, Any]]) -> None:
    """Set `added_ttfb_ms_p50`: the row's TTFB p50 minus its reference's (the direct row of
    the same upstream: the SSE mock, or the LLM mock in the provider's format)."""
    ttfb = {r["target"]: r["ttfb_ms_p50"] for r in rows if "ttfb_ms_p50" in r}
    for row in rows:
        reference = row.get("reference", "direct")
        if row["target"] != reference and row["target"] in ttfb and reference in ttfb:
            row["added_ttfb_ms_p50"] = round(ttfb[row["target"]] - ttfb[reference], 2)


def sse_row(row: dict[str, Any]) -> list[str]:
    keys = ("ttfb_ms_p50", "added_ttfb_ms_p50", "ttfb_ms_max", "total_ms_p50", "total_ms_max")
    failed = f"{row['failures']}/{row['samples']}" if "samples" in row else "–"
    status = row["status"]
    if status in NO_DATA:
        status = f"**{status}**: {row['reason'][:120]}"
    return [row["label"], *(fmt(row.get(key), 1) for key in keys), failed, status]


MANY_STREAMS_COLUMNS = (
    "row",
    "streams",
    "complete",
    "first event p50 ms",
    "first event p99 ms",
    "first event max ms",
    "RSS before MB",
    "RSS peak MB",
    "RSS KB per stream",
    "status",
)


def many_streams_section(results: dict[str, Any]) -> list[str]:
    row = results.get("many_streams")
    if not row:
        return []
    title = f"## {row.get('streams', 0):,} SSE streams opened at once"
    if row["status"] in NO_DATA:
        return no_data_section(title, row)
    lines = [
        title,
        "",
        f"All connections opened first, then every request sent in the same instant; each "
        f"stream is {row['events']} events long (one per {results['sse_interval_ms']} ms) so "
        "that all are open together. RSS is the gunicorn master and workers' summed RSS; "
        "per stream = (peak - before) / streams.",
        "",
    ]
    keys = ("ttfb_ms_p50", "ttfb_ms_p99", "ttfb_ms_max", "rss_before_mb", "rss_peak_mb")
    values = [row["label"], fmt(row["streams"]), fmt(row["complete"])]
    values += [fmt(row.get(key), 1) for key in keys]
    values += [fmt(row.get("rss_kb_per_stream"), 1), status_text(row | {"notes": []})]
    return lines + markdown_table(MANY_STREAMS_COLUMNS, [values]) + [""]


OBSERVE_COST_COLUMNS = (
    "c",
    "req/s on",
    "req/s off",
    "req/s change",
    "CPU µs/req on",
    "CPU µs/req off",
    "CPU change",
    "p50 ms on",
    "p50 ms off",
    "added p50 ms",
)


def observe_cost_section(results: dict[str, Any]) -> list[str]:
    cost = results.get("observe_cost")
    if not cost:
        return []
    title = "## Metrics + access log: on against off, alternating rounds"
    if cost["status"] != "ok":
        return no_data_section(title, cost)
    lines = [
        title,
        "",
        f"gateway (a), {cost['workload']} workload: the server with metrics and the access log "
        f"on and the one with both off, measured in {cost['rounds']} alternating rounds of "
        f"{cost['round_seconds']} s each (on, off, then off, on, ...); medians.",
        "",
    ]
    rows = [
        [
            str(row["concurrency"]),
            *(fmt(row[key], 0) for key in ("rps_on", "rps_off")),
            fmt_percent(row["rps_change_pct"]),
            *(fmt(row[key], 0) for key in ("cpu_us_on", "cpu_us_off")),
            fmt_percent(row["cpu_change_pct"]),
            *(fmt(row[key], 3) for key in ("p50_ms_on", "p50_ms_off", "p50_added_ms")),
        ]
        for row in cost["by_concurrency"]
    ]
    return lines + markdown_table(OBSERVE_COST_COLUMNS, rows) + [""]


def fmt_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f} %"


def notes_section(results: dict[str, Any]) -> list[str]:
    notes = {}
    for row in results["rows"]:
        for note in row.get("notes", []):
            notes.setdefault(row["label"], set()).add(note)
    return [f"- ⚠ {label}: {'; '.join(sorted(text))}" for label, text in notes.items()]


def render_markdown(results: dict[str, Any]) -> str:
    machine, config = results["machine"], results["config"]
    versions = ", ".join(
        f"{name} {machine[name]}"
        for name in ("python", "django", "gunicorn", "gevent", "nginx", "wrk")
    )
    lines = [
        f"# Gateway benchmark ({config['mode']} mode, {results['finished_at']})",
        "",
        f"Machine: {machine['cores']} cores, {machine['cpu_model']}, Linux {machine['kernel']}. "
        f"Versions: {versions}. Load average (1 min) at start: "
        f"{machine['load_average_at_start']}.",
        "",
        f"Load: wrk, keep-alive connections = c, {config['warmup_seconds']} s warm-up then "
        f"{config['measure_seconds']} s measured per row; gateway: gunicorn + gevent, "
        f"{config['gateway_workers']} workers. Latency percentiles from wrk; `added` = row "
        "minus `direct` at the same workload and concurrency (negative values are noise: on "
        "shared cores the tail of the fast rows is scheduling jitter). " + MEASURED_PROCESSES,
        "",
    ]
    for workload in results["workloads"]:
        rows = [r for r in results["rows"] if r["workload"] == workload["name"]]
        lines += [f"## {workload['method']} {workload['path']}", ""]
        lines += markdown_table(LOAD_COLUMNS, [load_row(r) for r in rows]) + [""]
    lines += [
        f"## SSE: {results['sse_events']} events, one per "
        f"{results['sse_interval_ms']} ms, first at once ({config['sse_samples']} streams each)",
        "",
    ]
    lines += markdown_table(SSE_COLUMNS, [sse_row(r) for r in results["sse"]]) + [""]
    lines += many_streams_section(results)
    lines += observe_cost_section(results)
    lines += overhead_section(results)
    lines += peers_section(results)
    notes = notes_section(results)
    if notes:
        lines += ["## Notes", "", *notes, ""]
    if results.get("profile"):
        lines += ["## Profile", "", results["profile"], ""]
    return "\n".join(lines)


def write_results(results: dict[str, Any], directory: Path) -> str:
    """Write results.json and results.md; return the markdown."""
    add_overhead(results["rows"])
    add_sse_overhead(results["sse"])
    markdown = render_markdown(results)
    (directory / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    (directory / "results.md").write_text(markdown)
    return markdown
