"""The Grafana dashboard (docs/grafana/gateway.json) queries series the gateway exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from observability import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "gateway.json"
SUFFIXES = {Counter: ("_total",), Histogram: ("_bucket", "_sum", "_count"), Gauge: ("",)}
SERIES_NAME = re.compile(r"\b(gateway_[a-z_]+)\b")


def exported_series() -> set[str]:
    """The sample names of every metric observability.metrics declares."""
    names = set()
    for value in vars(metrics).values():
        for kind, suffixes in SUFFIXES.items():
            if isinstance(value, kind):
                names |= {value._name + suffix for suffix in suffixes}
    return names


def queries(dashboard: dict) -> list[str]:
    found = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    found += [v["definition"] for v in dashboard["templating"]["list"] if "definition" in v]
    return found


def test_every_query_names_an_exported_series():
    dashboard = json.loads(DASHBOARD.read_text())
    exported = exported_series()
    named = {name for query in queries(dashboard) for name in SERIES_NAME.findall(query)}
    assert named, "the dashboard queries no gateway series"
    assert named - exported == set()
    assert {"gateway_requests_total", "gateway_trace_spans_dropped_total"} <= named


def test_a_misspelt_series_would_be_caught():
    assert "gateway_request_total" not in exported_series()
    assert "gateway_requests_total" in exported_series()
