"""Writes of gateways, upstreams, services and rules; their plugin chains are replaced whole."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model

from gateway_project.exceptions import Conflict
from gateways.models import Gateway, Rule, Service, Upstream
from plugins.services import plugin_chain_replace


def _save_with_chain(
    instance: Model, data: dict[str, Any], chain_field: str | None = None
) -> Model:
    chain = data.pop(chain_field, None) if chain_field else None
    for field, value in data.items():
        setattr(instance, field, value)
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance.save()
    if chain is not None:
        plugin_chain_replace(owner=instance, chain=chain)
    return instance


@transaction.atomic
def gateway_save(*, data: dict[str, Any], gateway: Gateway | None = None) -> Gateway:
    """Create (no `gateway`) or update a gateway; a taken subdomain is a 409."""
    gateway = gateway or Gateway()
    subdomain = data.get("subdomain", gateway.subdomain)
    if Gateway.objects.filter(subdomain=subdomain).exclude(pk=gateway.pk).exists():
        raise Conflict(f"subdomain {subdomain!r} is already taken")
    try:
        with transaction.atomic():
            return _save_with_chain(gateway, dict(data), "required_plugins")
    except IntegrityError as exc:  # a concurrent create took the subdomain
        raise Conflict(f"subdomain {subdomain!r} is already taken") from exc


def gateway_delete(*, gateway: Gateway) -> None:
    """Delete a gateway and everything it owns (rules, services, upstreams, keys, plugins)."""
    gateway.delete()


@transaction.atomic
def upstream_save(
    *, gateway: Gateway, data: dict[str, Any], upstream: Upstream | None = None
) -> Upstream:
    upstream = upstream or Upstream(gateway=gateway)
    return _save_with_chain(upstream, dict(data))


def upstream_delete(*, upstream: Upstream) -> None:
    in_use = upstream.services.count()
    if in_use:
        raise Conflict(f"upstream is used by {in_use} service(s)")
    upstream.delete()


@transaction.atomic
def service_save(
    *, gateway: Gateway, data: dict[str, Any], service: Service | None = None
) -> Service:
    service = service or Service(gateway=gateway)
    return _save_with_chain(service, dict(data))


def service_delete(*, service: Service) -> None:
    in_use = service.rules.count()
    if in_use:
        raise Conflict(f"service is used by {in_use} rule(s)")
    service.delete()


@transaction.atomic
def rule_save(*, gateway: Gateway, data: dict[str, Any], rule: Rule | None = None) -> Rule:
    rule = rule or Rule(gateway=gateway)
    return _save_with_chain(rule, dict(data), "plugin_chain")


def rule_delete(*, rule: Rule) -> None:
    rule.delete()
