"""Fixtures of the plugin tests: creating gateways that carry one plugin via the admin API."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.response import Response

_subdomains = itertools.count(1)


@pytest.fixture
def sample_plugins(settings):
    """The sample plugins of tests/plugins/sample_plugins.py registered beside the built-in."""
    from gateway_project.conf import DEFAULTS
    from plugins.registry import registry
    from tests.plugins.sample_plugins import SAMPLE_PLUGINS

    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], *SAMPLE_PLUGINS]}
    registry.load()
    yield
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


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
