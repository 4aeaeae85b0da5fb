"""Cache invalidation only: a plugin configuration change bumps the config version."""

from django.db.models.signals import post_delete, post_save

from gateways.invalidation import config_changed
from plugins.models import PluginConfig

post_save.connect(config_changed, sender=PluginConfig, dispatch_uid="config-save-plugin")
post_delete.connect(config_changed, sender=PluginConfig, dispatch_uid="config-delete-plugin")
