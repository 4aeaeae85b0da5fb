"""chart.png: throughput and latency per row and concurrency, SSE time to first event, and the
public overhead method's added latency per row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bench.markdown import NO_DATA  # noqa: E402

BAR_GROUP_WIDTH = 0.8
Row = dict[str, Any]
Colours = dict[str, tuple[float, ...]]  # row label -> RGBA


def colours(labels: list[str]) -> Colours:
    """One colour per row label, the same in every panel (20 distinct ones: there are more
    rows than the default cycle's 10)."""
    palette = matplotlib.colormaps["tab20"]
    return {label: palette(index % palette.N) for index, label in enumerate(labels)}


def measured(row: Row | None) -> bool:
    return bool(row) and row["status"] not in NO_DATA


def grouped_bars(
    ax, rows: list[Row], value: Callable[[Row], float], colour: Colours, marker=None
) -> None:
    """Bars of `value(row)` grouped by concurrency; errors hatched; `marker(row)` as a tick."""
    levels = sorted({r["concurrency"] for r in rows})
    width = BAR_GROUP_WIDTH / max(len(colour), 1)
    for index, label in enumerate(colour):
        by_level = {r["concurrency"]: r for r in rows if r["label"] == label}
        offset = (index - (len(colour) - 1) / 2) * width
        for position, level in enumerate(levels):
            row = by_level.get(level)
            if not measured(row) or not value(row):
                continue
            hatch = "//" if row["status"] == "errors" else None
            ax.bar(position + offset, value(row), width, color=colour[label], hatch=hatch)
            if marker:
                ax.plot(position + offset, marker(row), "k_", markersize=9)
    ax.set_xticks(range(len(levels)), [f"c={level}" for level in levels])
    ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3, which="both")


def sse_bars(ax, sse: list[Row], colour: Colours) -> None:
    rows = [r for r in sse if "ttfb_ms_p50" in r]
    for position, row in enumerate(rows):
        ax.barh(position, row["ttfb_ms_p50"], color=colour.get(row["label"], "grey"))
        ax.annotate(
            f" {row['ttfb_ms_p50']:.1f} ms (total {row['total_ms_p50']:.0f} ms)",
            (row["ttfb_ms_p50"], position),
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.6)
    ax.set_title("SSE: time to first event, p50 (ms, log)", fontsize=10)


def overhead_bars(ax, overhead: dict[str, Any] | None, colour: Colours) -> None:
    """The method's added latency per row (log; a row at or below 0 shows its value only)."""
    rows = [r for r in (overhead or {}).get("rows", []) if r["status"] == "ok" and r["reference"]]
    for position, row in enumerate(rows):
        added = row["added_ms"]
        ax.barh(position, max(added, 0.01), color=colour.get(row["label"], "grey"))
        ax.annotate(f" {added:.2f} ms", (max(added, 0.01), position), va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.margins(x=0.3)
    ax.set_title("added latency, public method: sequential chat (ms, log)", fontsize=10)


def legend_panel(ax, text_ax, results: dict[str, Any], colour: Colours) -> None:
    """The row colours in `ax`; the machine, mode and how to read the bars in `text_ax`."""
    ax.axis("off")
    text_ax.axis("off")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colour.values()]
    ax.legend(handles, list(colour), loc="upper left", fontsize=9, frameon=False)
    machine = results["machine"]
    text_ax.text(
        0,
        0.6,
        f"{machine['cores']} cores, {machine['cpu_model']}\n"
        f"{results['config']['mode']} mode, {results['finished_at']}\n"
        "latency: bar = p50, tick = p99\nhatched: row had errors; no bar: skipped or failed",
        fontsize=9,
        transform=text_ax.transAxes,
    )


def write_chart(results: dict[str, Any], path: Path) -> None:
    workloads = results["workloads"]
    colour = colours(list(dict.fromkeys(r["label"] for r in results["rows"])))
    figure, axes = plt.subplots(len(workloads) + 2, 2, figsize=(13, 3.6 * len(workloads) + 7))
    for (rps_ax, latency_ax), workload in zip(axes, workloads, strict=False):
        rows = [r for r in results["rows"] if r["workload"] == workload["name"]]
        name = f"{workload['method']} {workload['path']}"
        grouped_bars(rps_ax, rows, lambda r: r["rps"], colour)
        rps_ax.set_title(f"{name}: requests/s answered 2xx (log)", fontsize=10)
        grouped_bars(
            latency_ax,
            rows,
            lambda r: r["latency_ms"].get("50"),
            colour,
            marker=lambda r: r["latency_ms"].get("99"),
        )
        latency_ax.set_title(f"{name}: latency p50 / p99 (ms, log)", fontsize=10)
    sse_bars(axes[-2][0], results["sse"], colour)
    overhead_bars(axes[-2][1], results.get("overhead"), colour)
    legend_panel(axes[-1][0], axes[-1][1], results, colour)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
