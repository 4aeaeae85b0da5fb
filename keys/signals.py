"""Cache invalidation only: key writes bump the config version, so revocation is immediate."""

from django.db.models.signals import post_delete, post_save

from gateways.invalidation import config_changed
from keys.models import ApiKey

post_save.connect(config_changed, sender=ApiKey, dispatch_uid="config-save-api-key")
post_delete.connect(config_changed, sender=ApiKey, dispatch_uid="config-delete-api-key")
