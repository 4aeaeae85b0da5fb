"""Cache invalidation only: any change of the routing model bumps the config version."""

from django.db.models.signals import post_delete, post_save

from gateways.invalidation import config_changed
from gateways.models import Gateway, Rule, Service, Upstream

for model in (Gateway, Upstream, Service, Rule):
    post_save.connect(config_changed, sender=model, dispatch_uid=f"config-save-{model.__name__}")
    post_delete.connect(config_changed, sender=model, dispatch_uid=f"config-del-{model.__name__}")
