"""Each SSE row's added time to first event is against the direct row of its own upstream."""

from __future__ import annotations

from types import SimpleNamespace

from bench.config import SSE_EVENTS
from bench.measure import measure_sse
from bench.report import add_sse_overhead, render_markdown
from bench.scenarios import reference_targets
from bench.servers import Servers
from bench.sse_client import StreamRequest, sample


def test_the_direct_llm_rows_stream_openai_and_anthropic_events(llm_port):
    no_nginx = SimpleNamespace(port=0, pid=0)  # the nginx rows are not measured here
    servers = Servers(no_nginx, no_nginx, 0, llm_port, None)  # type: ignore[arg-type]
    rows = [t for t in reference_targets(servers) if t.key.startswith("direct-llm")]
    results = [measure_sse(t, 2, "key") for t in rows]
    assert [(r["target"], r["status"], r["failures"]) for r in results] == [
        ("direct-llm", "ok", 0),
        ("direct-llm-anthropic", "ok", 0),
    ]
    assert [t.sse_request.events for t in rows] == [SSE_EVENTS, SSE_EVENTS + 2]


def test_added_ttfb_is_against_each_rows_reference():
    rows = [
        {"target": "direct", "reference": "direct", "ttfb_ms_p50": 0.5},
        {"target": "direct-llm", "reference": "direct-llm", "ttfb_ms_p50": 0.75},
        {"target": "gateway-a", "reference": "direct", "ttfb_ms_p50": 1.25},
        {"target": "gateway-llm-openai", "reference": "direct-llm", "ttfb_ms_p50": 2.0},
        {"target": "gateway-b", "reference": "direct", "status": "skipped", "reason": "x"},
    ]
    add_sse_overhead(rows)
    assert [row.get("added_ttfb_ms_p50") for row in rows] == [None, None, 0.75, 1.25, None]


def test_the_sse_table_shows_the_added_ttfb():
    sse = {"target": "gateway-a", "label": "gateway (a)", "reference": "direct", "status": "ok"}
    sse |= {"samples": 3, "failures": 0, "ttfb_ms_p50": 2.5, "added_ttfb_ms_p50": 2.0}
    sse |= {"ttfb_ms_max": 3.0, "total_ms_p50": 960.0, "total_ms_max": 970.0}
    results = {
        "machine": {"cores": 2, "cpu_model": "x", "kernel": "6", "load_average_at_start": 0.1}
        | {name: "1" for name in ("python", "django", "gunicorn", "gevent", "nginx", "wrk")},
        "config": {"mode": "quick", "warmup_seconds": 1, "measure_seconds": 2}
        | {"gateway_workers": 2, "sse_samples": 3},
        "finished_at": "now",
        "workloads": [],
        "rows": [],
        "sse": [sse],
        "sse_events": 20,
        "sse_interval_ms": 50,
    }
    markdown = render_markdown(results)
    assert "| row | TTFB p50 ms | added TTFB p50 ms |" in markdown
    assert "| gateway (a) | 2.5 | 2.0 | 3.0 |" in markdown


def test_a_stream_asked_for_no_event_count_is_read_to_its_done(llm_port, sse_port):
    # The cached row's request: a HIT replays the kept answer in its own number of chunks.
    to_done = StreamRequest(events=0)
    finished = sample(llm_port, "llm.localhost", {}, to_done)
    assert (finished.status, finished.complete) == (200, True)
    assert finished.events == SSE_EVENTS  # the mock's chunks, `[DONE]` the last of them
    unfinished = sample(sse_port, "sse.localhost", {}, to_done)  # this mock sends no [DONE]
    assert (unfinished.status, unfinished.complete) == (200, False)
    assert unfinished.events == SSE_EVENTS
