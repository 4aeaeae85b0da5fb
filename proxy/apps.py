"""App config of the proxy app."""

from django.apps import AppConfig


class ProxyConfig(AppConfig):
    name = "proxy"

    def ready(self) -> None:
        from gateway_project.worker_hooks import on_worker_start
        from proxy.probes import start_prober
        from proxy.snapshot import snapshots

        on_worker_start(start_prober)  # active health checks, one prober per node
        on_worker_start(snapshots.start_database_checks)  # config catch-up, off the requests' path
