"""App config of the gateways app."""

from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    name = "gateways"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from gateway_project import checks  # noqa: F401  (project system checks)
        from gateways import signals  # noqa: F401  (cache invalidation receivers)
