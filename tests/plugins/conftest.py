"""Fixtures of the plugin tests: creating gateways that carry one plugin via the admin API."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.response import Response

_subdomains = itertools.count(1)


@pytest.fixture
def create_gateway_with(api) -> Callable[..., Response]:
    """POST a gateway whose `required_plugins` holds one plugin; returns the API response."""

    def create(name: str, settings: Any, stage: str = "pre_request") -> Response:
        payload = {
            "name": f"plugin-test-{name}",
            "subdomain": f"plugin-test-{next(_subdomains)}",
            "required_plugins": [
                {"name": name, "stage": stage, "priority": 1, "settings": settings}
            ],
        }
        return api.post("/api/v1/gateways", payload, format="json")

    return create
