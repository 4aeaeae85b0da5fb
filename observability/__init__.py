"""Observability: Prometheus metrics, the JSON access log, health probes and the monitoring page."""
