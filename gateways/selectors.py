"""Reads of gateways and their routing objects for the admin plane."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.generics import get_object_or_404

from gateways.models import Gateway, Rule, Service, Upstream


def gateway_list() -> QuerySet[Gateway]:
    return Gateway.objects.prefetch_related("required_plugins")


def gateway_get(*, gateway_id: str) -> Gateway:
    return get_object_or_404(gateway_list(), pk=gateway_id)


def upstream_list(*, gateway: Gateway) -> QuerySet[Upstream]:
    return Upstream.objects.filter(gateway=gateway)


def service_list(*, gateway: Gateway) -> QuerySet[Service]:
    return Service.objects.filter(gateway=gateway)


def rule_list(*, gateway: Gateway) -> QuerySet[Rule]:
    return Rule.objects.filter(gateway=gateway).prefetch_related("plugin_chain")
