"""The benchmark's report never hides a failure, and wrk's summary is read as wrk prints it."""

from __future__ import annotations

import copy
import json

import pytest

from bench.config import RESULTS_DIR
from bench.measure import Measurement
from bench.observe_ab import compare
from bench.report import render_markdown, write_results
from bench.wrk import MARKER, parse_output


@pytest.fixture
def results() -> dict:
    """The committed results of the last full run."""
    return json.loads((RESULTS_DIR / "results.json").read_text())


def table_line(markdown: str, label: str, concurrency: int) -> str:
    return next(
        line for line in markdown.splitlines() if line.startswith(f"| {label} | {concurrency} |")
    )


def test_rows_with_errors_are_marked_with_their_counts(results, tmp_path):
    broken = copy.deepcopy(results)
    row = next(r for r in broken["rows"] if r["target"] == "gateway-b")
    row.update(status="errors", non2xx=17, socket_errors=3)
    markdown = write_results(broken, tmp_path)
    line = table_line(markdown, row["label"], row["concurrency"])
    assert line.endswith("| 17 | 3 | **ERRORS** |")
    assert json.loads((tmp_path / "results.json").read_text())["rows"] == broken["rows"]


def test_skipped_rows_show_why_instead_of_numbers(results):
    skipped = copy.deepcopy(results)
    row = next(r for r in skipped["rows"] if r["target"] == "gateway-c")
    row.update(status="skipped", reason="preflight HTTP 401: invalid API key")
    line = table_line(render_markdown(skipped), row["label"], row["concurrency"])
    assert "**skipped**: preflight HTTP 401: invalid API key" in line
    assert str(row["rps"]) not in line


def test_wrk_summary_counts_only_2xx_as_throughput():
    summary = {
        "requests": 1000,
        "duration_us": 2_000_000,
        "bytes": 64000,
        "non2xx": 100,
        "connect": 1,
        "read": 2,
        "write": 0,
        "timeout": 4,
        "mean_us": 1500.5,
        "max_us": 9000,
        "percentiles_us": {"50": 1200, "99": 8000},
    }
    result = parse_output("Running 2s test\n" + MARKER + json.dumps(summary) + "\n")
    assert result.ok_rps == 450.0
    assert (result.socket_errors, result.errors) == (7, 107)
    assert result.percentiles_ms == {"50": 1.2, "99": 8.0}


def test_missing_wrk_summary_is_an_error():
    with pytest.raises(RuntimeError, match="no summary"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_litellm_rows_sit_beside_ours_with_the_ratios(results):
    with_peers = copy.deepcopy(results)
    with_peers["peers"] = {"litellm": "1.108.7", "error": ""}
    ours = next(
        r
        for r in with_peers["rows"]
        if r["target"] == "gateway-b" and r["workload"] == "chat" and r["concurrency"] == 1
    )
    ours.update(status="ok", rps=800.0, cpu_us_per_request=1000.0)
    theirs = copy.deepcopy(ours) | {"target": "litellm-limited", "label": "LiteLLM key + rpm"}
    theirs.update(rps=100.0, cpu_us_per_request=8500.0)
    with_peers["rows"].append(theirs)
    markdown = render_markdown(with_peers)
    assert "## LiteLLM 1.108.7 side by side" in markdown
    line = next(row for row in markdown.splitlines() if row.startswith("| 1 | gateway (b)"))
    assert line.startswith(f"| 1 | {ours['label']} | LiteLLM key + rpm | 800 | 100 | 8.0 |")
    assert line.endswith("| 1,000 | 8,500 | 8.5 |")


def test_without_litellm_the_report_has_no_side_by_side_section(results):
    assert "side by side" not in render_markdown(results | {"peers": None})


def test_observability_cost_is_compared_on_medians_of_alternating_rounds():
    def rounds(rps: list[float], cpu: list[float], p50: list[float]) -> list[Measurement]:
        return [
            Measurement("t", "t", "chat", 16, rps=r, cpu_us_per_request=c, latency_ms={"50": p})
            for r, c, p in zip(rps, cpu, p50, strict=True)
        ]

    on = rounds([950, 1000, 700], [2100, 2000, 2900], [1.1, 1.0, 1.4])
    off = rounds([1000, 1040, 1100], [2000, 1900, 1850], [1.0, 0.9, 0.9])
    compared = compare(16, on, off)
    assert (compared["rps_on"], compared["rps_off"]) == (950, 1040)
    assert compared["rps_change_pct"] == round((950 / 1040 - 1) * 100, 1)
    assert compared["cpu_change_pct"] == round((2100 / 1900 - 1) * 100, 1)
    assert compared["p50_added_ms"] == 0.2


def test_the_observability_cost_section_shows_each_concurrency_or_why_it_is_missing(results):
    measured = copy.deepcopy(results)
    measured["observe_cost"] = {
        "status": "ok",
        "workload": "chat",
        "rounds": 6,
        "round_seconds": 5,
        "by_concurrency": [
            compare(
                16,
                [
                    Measurement(
                        "a",
                        "a",
                        "chat",
                        16,
                        rps=980,
                        cpu_us_per_request=2040,
                        latency_ms={"50": 14.0},
                    )
                ],
                [
                    Measurement(
                        "u",
                        "u",
                        "chat",
                        16,
                        rps=1000,
                        cpu_us_per_request=2000,
                        latency_ms={"50": 13.5},
                    )
                ],
            )
        ],
    }
    markdown = render_markdown(measured)
    assert "| 16 | 980 | 1,000 | -2.0 % | 2,040 | 2,000 | +2.0 % | 14.000 | 13.500 | 0.500 |" in (
        markdown
    )
    measured["observe_cost"] = {"status": "skipped", "reason": "gateway did not start"}
    assert "**skipped**: gateway did not start" in render_markdown(measured)


def chat_row(results: dict, target: str, concurrency: int) -> dict:
    return next(
        r
        for r in results["rows"]
        if (r["target"], r["workload"], r["concurrency"]) == (target, "chat", concurrency)
    )


def overhead_row(target: str, label: str, added: float) -> dict:
    return {
        "target": target,
        "label": label,
        "reference": "direct",
        "status": "ok",
        "rounds": 7,
        "reference_ms": 0.4,
        "row_ms": 0.4 + added,
        "added_ms": added,
        "added_iqr_ms": [added - 0.1, added + 0.1],
        "summary": {"n": 175, "p50": 0.4 + added, "p90": 1.0, "p99": 2.0, "min": 0.3, "max": 3},
    }


def test_portkey_sits_beside_the_gateway_rows_with_the_goal_of_half_its_cost(results):
    with_peers = copy.deepcopy(results)
    with_peers["peers"] = {
        "litellm": "1.108.7",
        "error": "litellm did not start: exited with 1",
        "portkey": "1.15.2",
        "portkey_error": "",
    }
    plain, keyed = chat_row(with_peers, "gateway-a", 1), chat_row(with_peers, "gateway-b", 1)
    plain.update(status="ok", rps=800.0, cpu_us_per_request=1000.0)
    keyed.update(status="ok", rps=500.0, cpu_us_per_request=1500.0)
    portkey = copy.deepcopy(plain) | {"target": "portkey", "label": "Portkey 1.15.2"}
    portkey.update(rps=400.0, cpu_us_per_request=2500.0)
    with_peers["rows"].append(portkey)
    with_peers["overhead"] = {
        "method": {"rounds": 7, "per_round": 25, "warmup": 15},
        "rows": [
            overhead_row("gateway-a", plain["label"], 0.5),
            overhead_row("gateway-b", keyed["label"], 0.55),
            overhead_row("portkey", "Portkey 1.15.2", 1.2),
        ],
    }
    markdown = render_markdown(with_peers)
    assert "## LiteLLM 1.108.7 and Portkey 1.15.2 side by side" in markdown
    assert "LiteLLM rows skipped: litellm did not start: exited with 1" in markdown
    assert f"| 1 | {plain['label']} | Portkey 1.15.2 | 800 | 400 | 2.0 |" in markdown
    assert f"| {plain['label']} | 1 | 1,000 | 2,500 | 0.40 | 0.50 | 1.20 | 0.42 | yes |" in (
        markdown
    )
    assert f"| {keyed['label']} | 1 | 1,500 | 2,500 | 0.60 | 0.55 | 1.20 | 0.46 | no |" in (
        markdown
    )


def test_the_overhead_section_shows_each_row_against_its_reference_or_why_not(results):
    measured = copy.deepcopy(results)
    direct = {"target": "direct", "label": "direct upstream", "reference": "", "status": "ok"}
    direct |= {"rounds": 7, "row_ms": 0.41, "summary": overhead_row("", "", 0)["summary"]}
    failed = {"target": "gateway-b", "label": "gateway (b)", "reference": "direct"}
    failed |= {"status": "failed", "reason": "HTTP 502"}
    measured["overhead"] = {
        "method": {"rounds": 7, "per_round": 25, "warmup": 15},
        "rows": [direct, overhead_row("gateway-a", "gateway (a)", 0.75), failed],
    }
    markdown = render_markdown(measured)
    assert "## Added latency, the public method (llm-gateway-bench's overhead)" in markdown
    assert "| direct upstream | – | – | 0.41 | – | – | 0.40 / 2.00 | ok |" in markdown
    assert "| gateway (a) | direct | 0.40 | 1.15 | 0.75 | 0.65 .. 0.85 | 1.15 / 2.00 | ok |" in (
        markdown
    )
    assert "| gateway (b) | direct | – | – | – | – | – | **failed**: HTTP 502 |" in markdown
