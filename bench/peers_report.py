"""The report's sections on the public overhead method and on the peers (LiteLLM, Portkey)."""

from __future__ import annotations

from typing import Any

from bench.markdown import NO_DATA, fmt, markdown_table, status_text

# Gateway row and the peer row doing the same job (bench/peers.py): LiteLLM's two setups, and
# Portkey (provider headers, no key of its own) beside the plain, keyed and LLM front rows.
PEER_PAIRS = (
    ("gateway-a", "litellm-master"),
    ("gateway-b", "litellm-limited"),
    ("gateway-a", "portkey"),
    ("gateway-b", "portkey"),
    ("gateway-llm-openai", "portkey"),
)
PEER_COLUMNS = (
    "c",
    "gateway row",
    "peer row",
    "req/s gateway",
    "req/s peer",
    "req/s ×",
    "added p50 ms gateway",
    "added p50 ms peer",
    "CPU µs/req gateway",
    "CPU µs/req peer",
    "CPU ÷",
)
# The goal: the gateway's CPU per request and added latency at most half of Portkey's.
GOAL_PEER = "portkey"
GOAL_ROWS = ("gateway-a", "gateway-b", "gateway-llm-openai")
GOAL_FRACTION = 0.5
GOAL_COLUMNS = (
    "gateway row",
    "c",
    "CPU µs/req",
    "Portkey's",
    "CPU gateway ÷ Portkey",
    "added ms (method)",
    "Portkey's",
    "added gateway ÷ Portkey",
    "at most half",
)
OVERHEAD_COLUMNS = (
    "row",
    "against",
    "reference ms",
    "row ms",
    "added ms",
    "added IQR ms",
    "all requests p50 / p99 ms",
    "status",
)
PEER_NAMES = (("litellm", "LiteLLM", "error"), ("portkey", "Portkey", "portkey_error"))


def ratio(ours: float | None, theirs: float | None, digits: int = 1) -> str:
    return f"{ours / theirs:,.{digits}f}" if ours and theirs else "–"


def chat_rows(results: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """The measured chat rows by target and concurrency."""
    return {
        (r["target"], r["concurrency"]): r
        for r in results["rows"]
        if r["workload"] == "chat" and r["status"] not in NO_DATA
    }


def peer_rows(results: dict[str, Any]) -> list[list[str]]:
    """Each gateway row beside its peer counterparts, per concurrency, with the ratios."""
    by_key = chat_rows(results)
    lines = []
    for concurrency in results["config"]["concurrencies"]:
        for ours_key, theirs_key in PEER_PAIRS:
            ours = by_key.get((ours_key, concurrency))
            theirs = by_key.get((theirs_key, concurrency))
            if not (ours and theirs):
                continue
            added = [r.get("added_ms", {}).get("50") for r in (ours, theirs)]
            lines.append(
                [
                    str(concurrency),
                    ours["label"],
                    theirs["label"],
                    fmt(ours["rps"], 0),
                    fmt(theirs["rps"], 0),
                    ratio(ours["rps"], theirs["rps"]),
                    *(fmt(value, 2) for value in added),
                    fmt(ours["cpu_us_per_request"], 0),
                    fmt(theirs["cpu_us_per_request"], 0),
                    ratio(theirs["cpu_us_per_request"], ours["cpu_us_per_request"]),
                ]
            )
    return lines


def overhead_by_target(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = (results.get("overhead") or {}).get("rows", [])
    return {row["target"]: row for row in rows if row["status"] == "ok"}


def goal_rows(results: dict[str, Any]) -> list[list[str]]:
    """Each goal row against Portkey's at each concurrency: CPU per request (wrk rows) and
    the method's added latency, as fractions of Portkey's."""
    by_key, overhead = chat_rows(results), overhead_by_target(results)
    theirs_added = overhead.get(GOAL_PEER, {}).get("added_ms")
    lines = []
    for key in GOAL_ROWS:
        ours_added = overhead.get(key, {}).get("added_ms")
        for concurrency in results["config"]["concurrencies"]:
            ours, theirs = by_key.get((key, concurrency)), by_key.get((GOAL_PEER, concurrency))
            if not (ours and theirs):
                continue
            cpu = [row["cpu_us_per_request"] for row in (ours, theirs)]
            fractions = [
                ours_value / theirs_value if ours_value and theirs_value else None
                for ours_value, theirs_value in (cpu, (ours_added, theirs_added))
            ]
            known = [value for value in fractions if value is not None]
            met = "–" if len(known) < 2 else "yes" if max(known) <= GOAL_FRACTION else "no"
            lines.append(
                [
                    ours["label"],
                    str(concurrency),
                    *(fmt(value, 0) for value in cpu),
                    fmt(fractions[0]),
                    fmt(ours_added),
                    fmt(theirs_added),
                    fmt(fractions[1]),
                    met,
                ]
            )
    return lines


def peers_section(results: dict[str, Any]) -> list[str]:
    peers = results.get("peers")
    if not peers:
        return []
    present = [(name, label, error) for name, label, error in PEER_NAMES if peers.get(name)]
    names = " and ".join(f"{label} {peers[name]}" for name, label, _ in present)
    lines = [f"## {names} side by side (POST /v1/chat/completions)", ""]
    skipped = [
        f"{label} rows skipped: {peers[error]}" for _, label, error in present if peers.get(error)
    ]
    lines += skipped + ([""] if skipped else [])
    lines += [
        "Same mock upstream, same requests and concurrency. `req/s ×`: gateway ÷ peer; "
        "`CPU ÷`: the peer's CPU per request ÷ the gateway's. LiteLLM runs one uvicorn worker "
        "and Portkey one node process (the gateway two gunicorn workers): compare CPU per "
        "request; req/s at c=1 is latency-bound for all.",
        "",
    ]
    lines += markdown_table(PEER_COLUMNS, peer_rows(results)) + [""]
    goal = goal_rows(results)
    if goal:
        lines += [
            "Goal (issue 29): the gateway's CPU per request and added latency (the public "
            "method's, above) at most half of Portkey's in the same run.",
            "",
        ]
        lines += markdown_table(GOAL_COLUMNS, goal) + [""]
    return lines


def overhead_row(row: dict[str, Any]) -> list[str]:
    if row["status"] != "ok":
        return [row["label"], row.get("reference") or "–", *["–"] * 5, status_text(row)]
    summary = row["summary"]
    iqr = row.get("added_iqr_ms")
    return [
        row["label"],
        row["reference"] or "–",
        fmt(row.get("reference_ms")),
        fmt(row["row_ms"]),
        fmt(row.get("added_ms")),
        f"{fmt(iqr[0])} .. {fmt(iqr[1])}" if iqr else "–",
        f"{fmt(summary['p50'])} / {fmt(summary['p99'])}",
        "ok",
    ]


def overhead_section(results: dict[str, Any]) -> list[str]:
    overhead = results.get("overhead")
    if not overhead:
        return []
    method = overhead["method"]
    lines = [
        "## Added latency, the public method (llm-gateway-bench's overhead)",
        "",
        "`POST /v1/chat/completions`, one request at a time on a keep-alive connection per "
        f"row (opened before each of its turns): {method['warmup']} warm-up requests, then "
        f"{method['rounds']} interleaved rounds of {method['per_round']} per row (every other "
        "round in reverse order). `row ms`: "
        "median of the row's round medians; `added ms`: median over rounds of the row's round "
        "median minus its reference's in the same round (`direct` is the nginx mock, "
        "`direct-llm` the LLM mock), with the interquartile range of those differences.",
        "",
    ]
    return (
        lines + markdown_table(OVERHEAD_COLUMNS, [overhead_row(r) for r in overhead["rows"]]) + [""]
    )
