"""A worker's pending counts reach the metric files exactly as direct increments would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from observability.metrics import LATENCY_BUCKETS, PendingSeries, scrape

VALUES = (0.0001, 0.005, 0.0051, 0.3, 0.3, 2.5, 59.0, 61.0, 400.0)


def samples(registry: CollectorRegistry) -> dict[tuple, float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in registry.collect()
        for s in family.samples
        if not s.name.endswith("_created")
    }


def series(registry: CollectorRegistry) -> tuple[Counter, Histogram]:
    counter = Counter("t_requests", "t", ["gateway", "status"], registry=registry)
    histogram = Histogram("t_seconds", "t", ["gateway"], buckets=LATENCY_BUCKETS, registry=registry)
    return counter, histogram


def test_a_flush_gives_the_values_of_direct_increments_and_observations():
    direct, batched = CollectorRegistry(), CollectorRegistry()
    counter, histogram = series(direct)
    for value in VALUES:
        counter.labels("api", "200").inc()
        histogram.labels("api").observe(value)
    counter.labels("api", "429").inc(3)

    counter, histogram = series(batched)
    pending = PendingSeries()
    with pending.lock:
        for value in VALUES:
            pending.inc(counter, ("api", "200"))
            pending.observe(histogram, ("api",), value)
        pending.inc(counter, ("api", "429"), 3)
    assert samples(batched).get(("t_requests_total", (("gateway", "api"), ("status", "200")))) in (
        None,
        0.0,
    )
    pending.flush()
    assert samples(batched) == samples(direct)
    pending.flush()  # nothing pending: nothing added twice
    assert samples(batched) == samples(direct)


def test_a_scrape_includes_this_workers_pending_counts():
    from observability import metrics

    before = scrape().decode()
    with metrics.pending.lock:
        metrics.pending.inc(metrics.RATE_LIMIT_REJECTIONS, ("scraped", "per_key"), 2)
    assert 'gateway="scraped"' not in before
    assert 'gateway_rate_limit_rejections_total{gateway="scraped",scope="per_key"} 2.0' in (
        scrape().decode()
    )
