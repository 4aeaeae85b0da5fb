"""Cache invalidation only: key writes bump the config version, so revocation is immediate."""

from gateways.signals import watch
from keys.models import ApiKey

watch(ApiKey)
