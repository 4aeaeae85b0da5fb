"""Writes of gateways, upstreams, services and rules; their plugin chains are replaced whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from rest_framework.exceptions import ValidationError

from gateway_project.exceptions import Conflict, is_unique_violation
from gateways import selectors
from gateways.models import Gateway, Rule, Service, Upstream
from plugins.sdk.cache import purge
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


@contextmanager
def _conflict_on_duplicate(message: str) -> Iterator[None]:
    """Run the block in a savepoint; a unique value the database refuses (a concurrent write
    took it after the serializer's check) is a 409 with `message`."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise Conflict(message) from exc


@transaction.atomic
def gateway_save(*, data: dict[str, Any], gateway: Gateway | None = None) -> Gateway:
    """Create (no `gateway`) or update a gateway; a taken subdomain is a 409."""
    gateway = gateway or Gateway()
    subdomain = data.get("subdomain", gateway.subdomain)
    if Gateway.objects.filter(subdomain=subdomain).exclude(pk=gateway.pk).exists():
        raise Conflict(f"subdomain {subdomain!r} is already taken")
    with _conflict_on_duplicate(f"subdomain {subdomain!r} is already taken"):
        return _save_with_chain(gateway, dict(data), "required_plugins")


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
    name = data.get("name", service.name)
    with _conflict_on_duplicate(f"a service named {name!r} exists in this gateway"):
        return _save_with_chain(service, dict(data))


def service_delete(*, service: Service) -> None:
    in_use = service.rules.count()
    if in_use:
        raise Conflict(f"service is used by {in_use} rule(s)")
    service.delete()


@transaction.atomic
def rule_save(*, gateway: Gateway, data: dict[str, Any], rule: Rule | None = None) -> Rule:
    """Create or update a rule; an active route another rule took meanwhile (a concurrent
    write after the serializer's check) is refused as that check does: 400 on `path`."""
    # Rule writes of one gateway take turns (a row lock on the gateway, PostgreSQL).
    list(Gateway.objects.select_for_update().filter(pk=gateway.pk).values_list("pk"))
    rule = _save_with_chain(rule or Rule(gateway=gateway), dict(data), "plugin_chain")
    clash = rule.active and selectors.rule_route_clash(
        gateway=gateway,
        path=rule.path,
        methods=rule.methods,
        service_id=rule.service_id,
        exclude=rule,
    )
    if clash:
        raise ValidationError({"path": [clash]})
    return rule


def rule_delete(*, rule: Rule) -> None:
    rule.delete()


def gateway_cache_purge(*, gateway: Gateway, rule_id: str | None = None) -> int:
    """Forget the answers the gateway's response caches keep (one rule's with `rule_id`, which
    must be the gateway's); how many Redis keys went."""
    if rule_id is not None:
        try:
            rule_id = str(uuid.UUID(rule_id))
        except ValueError:
            rule_id = None
        if rule_id is None or not gateway.rules.filter(id=rule_id).exists():
            raise ValidationError({"rule": ["Not a rule of this gateway."]})
    return purge(str(gateway.id), rule_id)
