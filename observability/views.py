"""Admin-plane views: GET /metrics, and the monitoring pages of the Django admin (staff only)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import redis
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from gateways.models import Gateway
from observability import charts
from observability.metrics import metrics_response
from observability.rollups import STATUS_CLASSES
from observability.selectors import SPEND_DAYS, gateway_hour, gateway_spend, overview

REFRESH_SECONDS = 15


def metrics(request: HttpRequest) -> HttpResponse:
    return metrics_response(request)


def _page(request: HttpRequest, template: str, title: str, **context: object) -> HttpResponse:
    return render(
        request,
        template,
        {
            **admin.site.each_context(request),
            "title": title,
            "refresh_seconds": REFRESH_SECONDS,
            **context,
        },
    )


def monitoring_overview(request: HttpRequest) -> HttpResponse:
    """Every gateway's last hour: requests (sparkline), 4xx, 5xx, mean latency."""
    try:
        minutes, rows = overview(time.time())
    except redis.RedisError:
        return _page(request, "observability/overview.html", "Monitoring", unavailable=True)
    busy = [row for row in rows if row.requests]
    return _page(
        request,
        "observability/overview.html",
        "Monitoring",
        rows=[(row, charts.sparkline(row.per_minute)) for row in rows],
        requests=sum(row.requests for row in rows),
        busy=len(busy),
        all_requests=charts.stacked_bars(
            "chart-all-requests",
            "Requests per minute, all gateways",
            minutes,
            [{"requests": sum(row.per_minute[i] for row in rows)} for i in range(len(minutes))],
            ["requests"],
        ),
    )


def monitoring_gateway(request: HttpRequest, gateway_id: uuid.UUID) -> HttpResponse:
    """One gateway's last hour by minute, and its spend by key and model."""
    gateway = get_object_or_404(Gateway, pk=gateway_id)
    title = f"Monitoring: {gateway.name}"
    try:
        hour = gateway_hour(gateway, time.time())
        spend = gateway_spend(gateway, datetime.now(UTC).date())
    except redis.RedisError:
        return _page(
            request, "observability/gateway.html", title, gateway=gateway, unavailable=True
        )
    tokens = [{"tokens": row.get("tok_in", 0) + row.get("tok_out", 0)} for row in hour.per_minute]
    return _page(
        request,
        "observability/gateway.html",
        title,
        gateway=gateway,
        hour=hour,
        spend=spend,
        spend_days=SPEND_DAYS,
        totals=hour.totals,
        status_totals=[
            (name, int(hour.totals.get(name, 0)), charts.COLORS[name]) for name in STATUS_CLASSES
        ],
        requests_chart=charts.stacked_bars(
            "chart-requests",
            "Requests per minute by status class",
            hour.minutes,
            hour.per_minute,
            STATUS_CLASSES,
        ),
        latency_chart=charts.lines(
            "chart-latency",
            "Latency per minute (p50, p95)",
            hour.minutes,
            {"p50": hour.p50, "p95": hour.p95},
            " ms",
        ),
        tokens_chart=charts.stacked_bars(
            "chart-tokens", "LLM tokens per minute", hour.minutes, tokens, ["tokens"]
        ),
    )
