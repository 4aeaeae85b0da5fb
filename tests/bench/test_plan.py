"""Quick mode measures fewer wrk rows, but every row the top-level README's table shows."""

from __future__ import annotations

import pytest

from bench.config import load_config
from bench.run import plan, sse_plan
from bench.scenarios import GATEWAY_ROWS, LLM_ROWS, RESPONSES_ROW, Target

# The README's Performance table: the chat request at c=1 and c=16, the 4 KB prompt at c=1.
README_ROWS = {
    *((key, "chat", c) for key in ("nginx", "gateway-a", "gateway-b") for c in (1, 16)),
    *((key, "chat", 1) for key in ("gateway-k", "gateway-threats", "gateway-m", "gateway-d")),
    *((key, "chat", c) for key, _, _ in LLM_ROWS for c in (1, 16)),
    *((key, "chat4k", 1) for key in ("gateway-k", "gateway-m", "gateway-threats")),
    (RESPONSES_ROW[0], "responses", 1),
}


def targets() -> list[Target]:
    rows = [Target(key, key, 1, "", 1, "", list) for key in ("direct", "nginx")]
    rows.append(Target("direct-llm", "", 1, "", 1, "", list, workloads=frozenset({"chat"})))
    rows += [
        Target(row.key, row.label, 1, "", 1, "", list, workloads=row.workloads)
        for row in GATEWAY_ROWS
    ]
    for key, label, _ in LLM_ROWS:
        rows.append(Target(key, label, 1, "", 1, "", list, workloads=frozenset({"chat"})))
    key, label, _ = RESPONSES_ROW
    rows.append(Target(key, label, 1, "", 1, "", list, workloads=frozenset({"responses"})))
    return rows


def planned(monkeypatch, quick: str) -> set[tuple[str, str, int]]:
    monkeypatch.setenv("BENCH_QUICK", quick)
    return {(t.key, w.name, c) for w, c, t in plan(load_config(), targets())}


@pytest.mark.parametrize("quick", ["1", ""], ids=["quick", "full"])
def test_both_modes_measure_every_row_of_the_readme(monkeypatch, quick):
    assert README_ROWS - planned(monkeypatch, quick) == set()


def test_quick_mode_measures_the_other_workloads_at_c1_only(monkeypatch):
    quick, full = planned(monkeypatch, "1"), planned(monkeypatch, "")
    assert {(w, c) for _, w, c in quick} == {
        ("chat", 1),
        ("chat", 16),
        ("json", 1),
        ("chat4k", 1),
        ("responses", 1),
    }
    assert {c for _, _, c in full} == {1, 16, 64}
    assert len(quick) == 31  # the Responses row at c=1; no other row measures `responses`
    assert len(full) == 108


def test_quick_mode_measures_every_row_at_c1_on_chat_and_elsewhere_only_the_readme_s(
    monkeypatch,
):
    quick, full = planned(monkeypatch, "1"), planned(monkeypatch, "")
    chat_c1 = {row for row in full if row[1:] == ("chat", 1)}
    assert chat_c1 <= quick
    # Beyond chat at c=1: the README's rows, the references of their `added` columns, and
    # GET /json through nginx and (a) (the chart's GET panel).
    references = {("direct", w, c) for w, c in (("chat", 16), ("chat4k", 1), ("json", 1))}
    expected = README_ROWS | references | {("direct-llm", "chat", 16)}
    expected |= {("nginx", "json", 1), ("gateway-a", "json", 1)}
    assert quick - chat_c1 == expected - chat_c1


def test_quick_mode_streams_through_the_rows_the_readme_quotes_full_mode_through_all(monkeypatch):
    quoted = {"direct", "nginx", "gateway-a", "gateway-llm-openai", "gateway-llm-anthropic"}
    monkeypatch.setenv("BENCH_QUICK", "1")
    quick = {target.key for target in sse_plan(load_config(), targets())}
    monkeypatch.setenv("BENCH_QUICK", "")
    full = {target.key for target in sse_plan(load_config(), targets())}
    assert quoted <= quick
    assert quick - quoted == {"gateway-b", "gateway-llm-responses"}
    assert full == {target.key for target in targets()}
