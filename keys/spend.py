"""Spend per gateway, key, model, provider and day: counted in Redis on the hot path (see
keys.budgets), flushed to the database here (by `manage.py flush_spend` and before the spend API
reads), and read back grouped."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import QuerySet, Sum

from gateway_project.redis_client import redis_client
from gateways.models import Gateway
from keys.budgets import NANOS, spend_day_key, spend_days_key
from keys.models import Spend

GROUPS = {"key": "api_key_id", "model": "model", "provider": "provider", "day": "day"}


def _decode(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def spend_flush(*, gateway_ids: Iterable[str] | None = None) -> int:
    """Copy the Redis day counters of the gateways (all of them by default) to Spend rows; a row
    only grows (a Redis that lost its counters never lowers what was flushed). Returns the rows
    written."""
    if gateway_ids is None:
        gateway_ids = [str(pk) for pk in Gateway.objects.values_list("id", flat=True)]
    client = redis_client()
    written = 0
    for gateway_id in gateway_ids:
        days = sorted(_decode(day) for day in client.smembers(spend_days_key(gateway_id)))
        for day in days:
            counters = client.hgetall(spend_day_key(gateway_id, day))
            written += _write_day(gateway_id, date.fromisoformat(day), counters)
    return written


def _write_day(gateway_id: str, day: date, counters: dict[Any, Any]) -> int:
    rows: dict[tuple[str, str, str], dict[str, int]] = {}
    for name, value in counters.items():
        name = _decode(name)
        kind, field = name[:1], name[1:]
        parts = field.split("\x1f")
        if kind not in ("c", "n") or len(parts) != 3:
            continue
        row = rows.setdefault((parts[0], parts[1], parts[2]), {"c": 0, "n": 0})
        row[kind] = int(value)
    with transaction.atomic():
        for (api_key_id, provider, model), counts in rows.items():
            spend, created = Spend.objects.select_for_update().get_or_create(
                day=day,
                gateway_id=gateway_id,
                api_key_id=api_key_id,
                model=model,
                provider=provider,
                defaults={"cost_nanos": counts["c"], "requests": counts["n"]},
            )
            if not created and (counts["c"] > spend.cost_nanos or counts["n"] > spend.requests):
                spend.cost_nanos = max(spend.cost_nanos, counts["c"])
                spend.requests = max(spend.requests, counts["n"])
                spend.save(update_fields=["cost_nanos", "requests"])
    return len(rows)


def spend_rows(
    *,
    gateway_id: str,
    api_key_id: str | None = None,
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[Spend]:
    rows = Spend.objects.filter(gateway_id=gateway_id)
    if api_key_id is not None:
        rows = rows.filter(api_key_id=api_key_id)
    if since is not None:
        rows = rows.filter(day__gte=since)
    if until is not None:
        rows = rows.filter(day__lte=until)
    return rows


def spend_grouped(rows: QuerySet[Spend], group_by: str) -> list[dict[str, Any]]:
    """`{<group>, cost_usd, requests}` per value of `group_by` (key, model, provider or day),
    the most spent first."""
    column = GROUPS[group_by]
    grouped = (
        rows.values(column)
        .annotate(cost=Sum("cost_nanos"), count=Sum("requests"))
        .order_by("-cost", column)
    )
    return [
        {
            group_by: str(row[column]) if group_by == "day" else row[column],
            "cost_usd": row["cost"] / NANOS,
            "requests": row["count"],
        }
        for row in grouped
    ]


def spend_total(rows: QuerySet[Spend]) -> dict[str, Any]:
    totals = rows.aggregate(cost=Sum("cost_nanos"), count=Sum("requests"))
    return {"cost_usd": (totals["cost"] or 0) / NANOS, "requests": totals["count"] or 0}
