"""Cache invalidation only: a change of anything a gateway is compiled from bumps its version."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save

from gateway_project.invalidation import publish
from gateways.models import Gateway, Rule, Service, Upstream
from gateways.versions import DIRECTORY, record_change
from plugins.models import PluginConfig


def scopes_of(instance: object) -> set[str]:
    """The scopes a changed object belongs to: its gateway's, plus the directory for gateways."""
    if isinstance(instance, Gateway):
        return {str(instance.pk), DIRECTORY}
    gateway_id = getattr(instance, "gateway_id", None)
    if gateway_id is None and getattr(instance, "rule_id", None) is not None:  # a rule's plugin
        gateway_id = Rule.objects.filter(pk=instance.rule_id).values_list("gateway_id").first()
        gateway_id = gateway_id[0] if gateway_id else None
    return {str(gateway_id)} if gateway_id else set()


def config_changed(*, instance: object, **kwargs: object) -> None:
    """Signal receiver: bump the version of the touched gateway, once per transaction."""
    scopes = scopes_of(instance)
    if scopes:
        record_change(scopes=scopes, publish=publish)


def watch(model: type) -> None:
    """Record a change of the gateway whenever a `model` row is saved or deleted."""
    name = f"{model._meta.app_label}.{model.__name__}"
    post_save.connect(config_changed, sender=model, dispatch_uid=f"config-save-{name}")
    post_delete.connect(config_changed, sender=model, dispatch_uid=f"config-del-{name}")


# Plugin configs belong to a gateway or a rule: the routing app watches them (plugins sits below
# it and knows nothing of gateways). API keys are watched by the keys app, which sits above.
for routing_model in (Gateway, Upstream, Service, Rule, PluginConfig):
    watch(routing_model)
