"""Per-minute rollups for the monitoring page: Redis hashes with a TTL, written in batches.

Each worker adds up its requests in memory and a background thread (a greenlet under gevent)
sends the sums once a second in one pipeline: the request path never waits for Redis. The same
flush moves the worker's pending Prometheus counts into the metric files. Keys:
`mon:gw:<gateway id>:<minute>` (one gateway's minute) and `mon:all:<minute>` (every gateway's
totals, for the overview), both gone after RETENTION_SECONDS.
"""

from __future__ import annotations

import atexit
import bisect
import functools
import logging
import os
import threading
import time
from collections import defaultdict

import redis

from gateway_project.redis_client import redis_client
from observability.metrics import pending, section_lock
from plugins.sdk.context import LLMCall

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
RETENTION_SECONDS = 2 * 3600
MINUTES_SHOWN = 60
# Upper bounds in milliseconds of the latency buckets (the last one is open).
LATENCY_BOUNDS_MS = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
OVERVIEW_FIELDS = ("n", "4xx", "5xx", "ms")


def gateway_key(gateway_id: str, minute: int) -> str:
    return f"mon:gw:{gateway_id}:{minute}"


def overview_key(minute: int) -> str:
    return f"mon:all:{minute}"


# A request's field names, made once: its latency bucket's, its rule's, its gateway's overview.
BUCKET_FIELDS = tuple(f"l{index}" for index in range(len(LATENCY_BOUNDS_MS) + 1))


@functools.lru_cache(maxsize=4096)
def rule_field(rule: str) -> str:
    return f"rule:{rule}"


@functools.lru_cache(maxsize=4096)
def overview_fields(gateway_id: str) -> tuple[tuple[str, str], ...]:
    """(field of a request, its name in the overview) for each of OVERVIEW_FIELDS."""
    return tuple((name, f"{gateway_id}|{name}") for name in OVERVIEW_FIELDS)


def latency_bucket(ms: float) -> int:
    """Index of the bucket whose upper bound is the first >= ms."""
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def status_class(status: int) -> str:
    return STATUS_CLASSES[min(max(status // 100, 2), 5) - 2]


def request_fields(
    status: int, rule: str, ms: float, decided: set[tuple[str, str]], llm: LLMCall | None
) -> dict[str, float]:
    """What one request adds to its gateway's minute: its count, status class, latency and
    bucket, rule, rejecting plugins (`decided`: (plugin, decision) pairs), tokens and cost."""
    fields: dict[str, float] = {
        "n": 1,
        status_class(status): 1,
        "ms": round(ms, 3),
        BUCKET_FIELDS[latency_bucket(ms)]: 1,
    }
    if rule:
        fields[rule_field(rule)] = 1
    for plugin, decision in decided:
        if decision == "rejected":
            fields[f"rej:{plugin}"] = 1
    if llm is not None:
        fields["tok_in"] = llm.prompt_tokens or 0
        fields["tok_out"] = llm.completion_tokens or 0
        fields["cost"] = llm.cost or 0.0
    return fields


Batch = dict[str, dict[str, float]]


class Rollups:
    """This process's pending sums and the thread that flushes them."""

    def __init__(self) -> None:
        self.pending: Batch = defaultdict(lambda: defaultdict(float))
        self._pid: int | None = None
        self._lock = section_lock()
        self._start_lock = threading.Lock()
        self._redis_up = True

    def add_request(self, gateway_id: str, now: float, fields: dict[str, float]) -> None:
        """Add one request's `fields` to its gateway's minute and to the overview."""
        if self._pid != os.getpid():
            self._start()
        minute = int(now // 60)
        with self._lock:  # a real thread flushes in tests; under gevent it never waits
            own = self.pending[gateway_key(gateway_id, minute)]
            for name, value in fields.items():
                own[name] += value
            overview = self.pending[overview_key(minute)]
            for name, overview_name in overview_fields(gateway_id):
                value = fields.get(name)
                if value:
                    overview[overview_name] += value

    def _start(self) -> None:
        """One flusher per process (a forked worker starts its own)."""
        with self._start_lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._lock = section_lock()
            self.pending = defaultdict(lambda: defaultdict(float))
        threading.Thread(target=self._run, name="rollup-flusher", daemon=True).start()
        atexit.register(self._flush_at_exit)

    def _run(self) -> None:
        while True:
            time.sleep(FLUSH_INTERVAL_SECONDS)
            self.flush()

    def _flush_at_exit(self) -> None:
        """A stopping worker sends its last second (quietly lost if Redis is gone first)."""
        logging.getLogger(__name__).disabled = True
        self.flush()

    def flush(self) -> None:
        """Send the pending sums in one pipeline; lost (with a warning) when Redis is down."""
        pending.flush()
        with self._lock:
            batch, self.pending = self.pending, defaultdict(lambda: defaultdict(float))
        if not batch:
            return
        try:
            pipe = redis_client().pipeline(transaction=False)
            for key, fields in batch.items():
                for name, value in fields.items():
                    if value == int(value):
                        pipe.hincrby(key, name, int(value))
                    else:
                        pipe.hincrbyfloat(key, name, value)
                pipe.expire(key, RETENTION_SECONDS)
            pipe.execute()
        except redis.RedisError as exc:
            if self._redis_up:  # once per outage, not every second
                logger.warning("monitoring rollups not saved (Redis unavailable): %s", exc)
            self._redis_up = False
            return
        self._redis_up = True


rollups = Rollups()


def read_minutes(keys: list[str]) -> list[dict[str, float]]:
    """HGETALL of each key in one pipeline, values as numbers."""
    pipe = redis_client().pipeline(transaction=False)
    for key in keys:
        pipe.hgetall(key)
    return [
        {name.decode(): float(value) for name, value in reply.items()} for reply in pipe.execute()
    ]


def last_minutes(now: float, count: int = MINUTES_SHOWN) -> list[int]:
    """The last `count` minutes, oldest first, the current one included."""
    current = int(now // 60)
    return list(range(current - count + 1, current + 1))


def percentile(buckets: list[float], fraction: float) -> float | None:
    """The upper bound (ms) of the bucket holding the `fraction` quantile; None without data."""
    total = sum(buckets)
    if not total:
        return None
    rank = fraction * total
    seen = 0.0
    for index, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return float(LATENCY_BOUNDS_MS[min(index, len(LATENCY_BOUNDS_MS) - 1)])
    return float(LATENCY_BOUNDS_MS[-1])
