"""Reads of gateways and their routing objects for the admin plane."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404

from gateways.models import Gateway, Rule, Service, Upstream
from gateways.paths import normalized_pattern


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


def plugin_owner_get(*, kind: str, owner_id: object) -> Gateway | Rule:
    """The gateway or rule (`kind`) whose plugins a /plugins write changes; 404 when missing."""
    model = Gateway if kind == "gateway" else Rule
    owner = model.objects.filter(pk=owner_id).first()
    if owner is None:
        raise NotFound(f"{kind} not found")
    return owner


def rule_route_clash(
    *, gateway: Gateway, path: str, methods: list[str], service_id: object, exclude: Rule | None
) -> str | None:
    """Why an active rule routing `methods` `path` to the service would duplicate another
    active rule of the gateway (same normalised path, a shared method), or None."""
    pattern = normalized_pattern(path)
    others = Rule.objects.filter(gateway=gateway, service_id=service_id, active=True)
    if exclude is not None and exclude.pk is not None:
        others = others.exclude(pk=exclude.pk)
    for other in others:
        shared = set(other.methods) & set(methods)
        if normalized_pattern(other.path) == pattern and shared:
            return (
                f"An active rule already routes {', '.join(sorted(shared))} "
                f"{path} to this service ({other.id})."
            )
    return None
