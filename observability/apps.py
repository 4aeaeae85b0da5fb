"""The observability app (metrics, access log, probes, monitoring page)."""

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Monitoring"
