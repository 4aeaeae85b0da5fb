"""The admin plane's exception handler: duplicates the database refuses are 409s."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from gateway_project.exceptions import api_exception_handler, is_unique_violation
from gateways.models import Gateway, Service

pytestmark = pytest.mark.django_db


def refused_write(write) -> IntegrityError:
    try:
        with transaction.atomic():
            write()
    except IntegrityError as exc:
        return exc
    raise AssertionError("the database accepted the write")


def test_a_unique_violation_is_a_409():
    Gateway.objects.create(name="a", subdomain="taken")
    exc = refused_write(lambda: Gateway.objects.create(name="b", subdomain="taken"))
    response = api_exception_handler(exc, {})
    assert response.status_code == 409
    assert response.data == {"error": "conflicts with an existing object"}


def test_other_integrity_errors_are_not_conflicts():
    exc = refused_write(lambda: Service.objects.create(gateway_id=None, name="s"))
    assert not is_unique_violation(exc)
    assert api_exception_handler(exc, {}) is None  # a server error, as any bug
