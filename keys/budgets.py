"""Dollar budgets of API keys and gateways: their windows, and the one Redis script that
reserves a request's largest cost on every budget at once and settles what it cost (with the
spend counters of keys.spend), atomic across workers and nodes."""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway_project.durations import UNIT_MS, parse_duration_ms
from gateway_project.redis_client import redis_client
from gateway_project.redis_scripts import RedisScript
from gateways.governance import MONTH, WEEK

NANOS = 1_000_000_000  # amounts are kept in billionths of a dollar
# Windows start at multiples of their length from Monday 1970-01-05 00:00 UTC: a day at
# midnight UTC, an hour on the hour, a week on Monday.
ORIGIN_MS = 4 * UNIT_MS["d"]
LATE_SETTLE_MS = UNIT_MS["d"]  # a window's counter outlives it by this, for answers still open
SPEND_TTL_MS = 40 * UNIT_MS["d"]  # the spend counters of a day, flushed to the database before
SCRIPT = Path(__file__).with_name("budget.lua").read_text()


def window_of(duration: str, now_ms: int) -> tuple[int, int | None]:
    """The start and end (epoch ms) of the `duration` window holding `now_ms`; (0, None) for a
    budget that never resets."""
    if not duration:
        return 0, None
    if duration == MONTH:
        moment = datetime.fromtimestamp(now_ms / 1000, UTC)
        start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
        days = calendar.monthrange(moment.year, moment.month)[1]
        start_ms = int(start.timestamp() * 1000)
        return start_ms, start_ms + days * UNIT_MS["d"]
    length = 7 * UNIT_MS["d"] if duration == WEEK else parse_duration_ms(duration)
    start = (now_ms - ORIGIN_MS) // length * length + ORIGIN_MS
    return start, start + length


def to_nanos(usd: float | Decimal) -> int:
    return int((Decimal(str(usd)) * NANOS).to_integral_value())


@dataclass(frozen=True)
class Budget:
    """A budget as the proxy's snapshot holds it: `scope` is `key:<id>` or `gateway:<id>`."""

    scope: str
    limit_nanos: int
    duration: str

    @classmethod
    def of(cls, scope: str, max_usd: Decimal | None, duration: str) -> Budget | None:
        return None if max_usd is None else cls(scope, to_nanos(max_usd), duration)

    def counter(self, gateway_id: str, now_ms: int) -> tuple[str, int]:
        """The Redis key of the current window's counter and its time to live (0: none)."""
        start, end = window_of(self.duration, now_ms)
        ttl = 0 if end is None else end - now_ms + LATE_SETTLE_MS
        return f"{budget_tag(gateway_id)}:budget:{self.scope}:{start}", ttl


def budget_tag(gateway_id: str) -> str:
    """The hash tag of a gateway's budgets and spend (one Redis Cluster slot per decision)."""
    return "{gw:" + gateway_id + "}"


@dataclass(frozen=True)
class Admission:
    admitted: bool
    refused: Budget | None  # the budget that had no room
    remaining_nanos: int  # the least left on any budget (after the reservation when admitted)


@dataclass
class Reservation:
    """What a request reserved: kept on the request until it ends and settles."""

    gateway_id: str
    counters: list[str]
    nanos: int
    remaining_nanos: int


script = RedisScript(SCRIPT)  # one EVALSHA a reserve or settle (gateway_project/redis_scripts)


def budgets_reserve(
    *, gateway_id: str, budgets: list[Budget], nanos: int, now_ms: int | None = None
) -> tuple[Admission, Reservation | None]:
    """Reserve `nanos` on every budget at once, or on none (raises redis errors as they come)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    counters = [budget.counter(gateway_id, now_ms) for budget in budgets]
    args: list[Any] = ["reserve", nanos]
    for budget, (_, ttl) in zip(budgets, counters, strict=True):
        args += [budget.limit_nanos, ttl]
    admitted, refused, remaining = script([key for key, _ in counters], args)
    admission = Admission(
        bool(admitted), budgets[int(refused) - 1] if refused else None, int(remaining)
    )
    if not admission.admitted:
        return admission, None
    keys = [key for key, _ in counters]
    return admission, Reservation(gateway_id, keys, nanos, admission.remaining_nanos)


def spend_field(api_key_id: str | None, provider: str, model: str) -> str:
    """The spend counters' field of a key (or "" on public rules), provider and model."""
    return "\x1f".join((api_key_id or "", provider, model))


def spend_day_key(gateway_id: str, day: str) -> str:
    return f"{budget_tag(gateway_id)}:spend:{day}"


def spend_days_key(gateway_id: str) -> str:
    return f"{budget_tag(gateway_id)}:spend-days"


def spend_settle(
    *,
    gateway_id: str,
    reservation: Reservation | None,
    cost_nanos: int | None,
    field: str,
    answered: bool,
    now: float | None = None,
) -> None:
    """The request ended: its reservation becomes `cost_nanos` (kept whole when the cost is
    unknown), and, when a provider `answered`, the cost is added to the day's spend of its key,
    model and provider."""
    day = datetime.fromtimestamp(time.time() if now is None else now, UTC).date().isoformat()
    counters = reservation.counters if reservation is not None else []
    reserved = reservation.nanos if reservation is not None else 0
    delta = 0 if cost_nanos is None else cost_nanos - reserved
    keys = [*counters, spend_day_key(gateway_id, day), spend_days_key(gateway_id)]
    args = ["settle", delta, cost_nanos or 0, field, day, SPEND_TTL_MS, int(answered)]
    script(keys, args)


def budgets_used(*, gateway_id: str, budget: Budget, now_ms: int | None = None) -> int:
    """Nanos spent and still reserved in the budget's current window."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    key, _ = budget.counter(gateway_id, now_ms)
    return int(redis_client().get(key) or 0)
