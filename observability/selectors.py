"""Reads for the monitoring page: the last hour of rollups, per gateway and for all of them, and
a gateway's spend by key and model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from gateways.models import Gateway, Rule
from keys.models import ApiKey
from keys.spend import spend_flush, spend_grouped, spend_rows
from observability.rollups import (
    LATENCY_BOUNDS_MS,
    gateway_key,
    last_minutes,
    overview_key,
    percentile,
    read_minutes,
)

TOP_RULES = 10


@dataclass
class GatewayRow:
    """One gateway of the overview: its last hour in totals and per-minute requests."""

    id: str
    name: str
    subdomain: str
    active: bool
    per_minute: list[float]
    errors_4xx: float = 0
    errors_5xx: float = 0
    total_ms: float = 0

    @property
    def requests(self) -> int:
        return int(sum(self.per_minute))

    @property
    def average_ms(self) -> float | None:
        return self.total_ms / self.requests if self.requests else None


def overview(now: float) -> tuple[list[int], list[GatewayRow]]:
    """Every gateway (busiest first, then by name) with its last hour: one query, one pipeline."""
    minutes = last_minutes(now)
    replies = read_minutes([overview_key(minute) for minute in minutes])
    gateways = Gateway.objects.order_by("name").values_list("id", "name", "subdomain", "status")
    rows = []
    for gateway_id, name, subdomain, status in gateways:
        gid = str(gateway_id)
        row = GatewayRow(
            gid,
            name,
            subdomain,
            status == Gateway.Status.ACTIVE,
            [reply.get(f"{gid}|n", 0.0) for reply in replies],
        )
        for reply in replies:
            row.errors_4xx += reply.get(f"{gid}|4xx", 0.0)
            row.errors_5xx += reply.get(f"{gid}|5xx", 0.0)
            row.total_ms += reply.get(f"{gid}|ms", 0.0)
        rows.append(row)
    rows.sort(key=lambda row: -row.requests)
    return minutes, rows


@dataclass
class GatewayHour:
    """One gateway's last hour, minute by minute, and its totals."""

    minutes: list[int]
    per_minute: list[dict[str, float]]
    totals: dict[str, float] = field(default_factory=dict)
    p50: list[float | None] = field(default_factory=list)
    p95: list[float | None] = field(default_factory=list)
    rejections: list[tuple[str, int]] = field(default_factory=list)
    top_rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return int(self.totals.get("n", 0))


def _buckets(reply: dict[str, float]) -> list[float]:
    return [reply.get(f"l{i}", 0.0) for i in range(len(LATENCY_BOUNDS_MS) + 1)]


def gateway_hour(gateway: Gateway, now: float) -> GatewayHour:
    minutes = last_minutes(now)
    replies = read_minutes([gateway_key(str(gateway.id), minute) for minute in minutes])
    hour = GatewayHour(minutes, replies)
    for reply in replies:
        for name, value in reply.items():
            hour.totals[name] = hour.totals.get(name, 0.0) + value
        hour.p50.append(percentile(_buckets(reply), 0.5))
        hour.p95.append(percentile(_buckets(reply), 0.95))
    hour.totals["p50"] = percentile(_buckets(hour.totals), 0.5) or 0
    hour.totals["p95"] = percentile(_buckets(hour.totals), 0.95) or 0
    hour.rejections = sorted(
        ((name[4:], int(v)) for name, v in hour.totals.items() if name.startswith("rej:")),
        key=lambda item: -item[1],
    )
    hour.top_rules = _top_rules(gateway, hour.totals)
    return hour


def _top_rules(gateway: Gateway, totals: dict[str, float]) -> list[dict[str, Any]]:
    counts = sorted(
        ((name[5:], int(v)) for name, v in totals.items() if name.startswith("rule:")),
        key=lambda item: -item[1],
    )[:TOP_RULES]
    rules = {
        str(rule.id): rule
        for rule in Rule.objects.filter(gateway=gateway, id__in=[rule_id for rule_id, _ in counts])
    }
    return [
        {
            "id": rule_id,
            "name": rules[rule_id].name if rule_id in rules else "(deleted rule)",
            "path": rules[rule_id].path if rule_id in rules else "",
            "requests": count,
        }
        for rule_id, count in counts
    ]


SPEND_DAYS = 30


def gateway_spend(gateway: Gateway, today: date) -> dict[str, list[dict[str, Any]]]:
    """The gateway's LLM spend of the last SPEND_DAYS days by key (named) and by model, flushed
    from Redis first."""
    spend_flush(gateway_ids=[str(gateway.pk)])
    rows = spend_rows(gateway_id=gateway.pk, since=today - timedelta(days=SPEND_DAYS - 1))
    by_key = spend_grouped(rows, "key")
    names = dict(
        ApiKey.objects.filter(id__in=[row["key"] for row in by_key if row["key"]]).values_list(
            "id", "name"
        )
    )
    names = {str(key_id): name for key_id, name in names.items()}
    for row in by_key:
        row["name"] = names.get(row["key"], "(public rules)" if not row["key"] else "(revoked)")
    return {"by_key": by_key, "by_model": spend_grouped(rows, "model")}
