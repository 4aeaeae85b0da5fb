"""Target `priority` and `pricing` through the admin API: defaults, storage, 400s by field."""

from __future__ import annotations

import pytest

from gateways.models import Upstream
from tests.gateways.test_routing_api import (
    HOST_TARGET,
    PROVIDER_TARGET,
    field_errors,
    gateway_url,
    make_gateway,
    make_upstream,
)

pytestmark = pytest.mark.django_db

PRICING = {"input_per_million": "2.50", "output_per_million": 10}


@pytest.fixture
def gateway(api) -> dict:
    return make_gateway(api)


def test_priority_defaults_to_zero_and_is_kept(api, gateway):
    upstream = make_upstream(api, gateway, targets=[HOST_TARGET, {**HOST_TARGET, "priority": 2}])
    assert [t["priority"] for t in upstream["targets"]] == [0, 2]


def test_pricing_is_stored_as_numbers_and_shown_as_sent(api, gateway):
    upstream = make_upstream(api, gateway, targets=[{**PROVIDER_TARGET, "pricing": PRICING}])
    expected = {"input_per_million": 2.5, "output_per_million": 10.0}
    assert upstream["targets"][0]["pricing"] == expected
    assert Upstream.objects.get(pk=upstream["id"]).targets[0]["pricing"] == expected
    assert upstream["targets"][0]["credentials"]["api_key"] == "********"


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ({**HOST_TARGET, "priority": -1}, "targets.0.priority"),
        ({**HOST_TARGET, "priority": "first"}, "targets.0.priority"),
        ({**HOST_TARGET, "priority": 1001}, "targets.0.priority"),
        ({**HOST_TARGET, "pricing": PRICING}, "targets.0.pricing"),
        (
            {**PROVIDER_TARGET, "pricing": {**PRICING, "input_per_million": -1}},
            "targets.0.pricing.input_per_million",
        ),
        (
            {**PROVIDER_TARGET, "pricing": {**PRICING, "output_per_million": "cheap"}},
            "targets.0.pricing.output_per_million",
        ),
        (
            {**PROVIDER_TARGET, "pricing": {**PRICING, "output_per_million": True}},
            "targets.0.pricing.output_per_million",
        ),
        (
            {**PROVIDER_TARGET, "pricing": {"input_per_million": 1}},
            "targets.0.pricing.output_per_million",
        ),
        (
            {**PROVIDER_TARGET, "pricing": {**PRICING, "cached_per_million": 1}},
            "targets.0.pricing.cached_per_million",
        ),
        ({**PROVIDER_TARGET, "pricing": "2.5"}, "targets.0.pricing"),
    ],
)
def test_bad_priority_or_pricing_is_a_400_naming_the_field(api, gateway, target, field):
    payload = {"name": "backend", "targets": [target]}
    field_errors(api.post(gateway_url(gateway, "upstreams"), payload, format="json"), field)
