"""Work done per second rather than per request: the health prober reads the database only when
the config changed."""

from __future__ import annotations

import time

import pytest

from proxy.probes import RELOAD_SECONDS, Prober
from tests.routing_upstream import HEALTH_PATH, SwitchableServer

CHECKS = {"path": HEALTH_PATH, "interval": 1, "threshold": 2, "passive": False}


@pytest.fixture
def target():
    server = SwitchableServer().start()
    yield server
    server.stop()


def a_second_later(prober: Prober) -> None:
    """As if the prober had last read the upstreams, and the config counter, RELOAD_SECONDS
    ago."""
    prober.loaded_at = prober.polled_at = time.monotonic() - RELOAD_SECONDS
    prober.due.clear()


def test_an_unchanged_config_costs_the_prober_no_database_query(
    route, target, django_assert_num_queries
):
    route(targets=[("127.0.0.1", target.port)], health_checks=CHECKS)
    prober = Prober("idle-node")
    prober.run_once()  # the first look reads the upstreams
    a_second_later(prober)
    with django_assert_num_queries(0):
        prober.run_once()  # one Redis read of the published config counter
    assert len(target.probes()) == 2  # and the target is still probed each interval


def test_the_prober_reads_the_upstreams_again_after_a_config_change(route, target):
    route(targets=[("127.0.0.1", target.port)], health_checks=CHECKS)
    prober = Prober("idle-node")
    prober.run_once()
    assert len(prober.upstreams) == 1
    other = SwitchableServer().start()
    try:
        route(subdomain="other", targets=[("127.0.0.1", other.port)], health_checks=CHECKS)
        a_second_later(prober)
        prober.run_once()
        assert len(prober.upstreams) == 2
        assert len(other.probes()) == 1
    finally:
        other.stop()
