"""gunicorn configuration: gevent workers, one per core, embedded Redis started by the master."""

import gevent
from gevent import monkey

monkey.patch_all()  # before anything imports ssl, socket or redis (the workers inherit them)

import multiprocessing  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from gateway_project.embedded_redis import EmbeddedRedisSupervisor  # noqa: E402

VAR_DIR = Path(os.environ.get("GATEWAY_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))

bind = os.environ.get("GATEWAY_BIND", "0.0.0.0:8080")
worker_class = "gateway_project.workers.GatewayGeventWorker"  # gevent, quick stops
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("GATEWAY_WORKER_CONNECTIONS", "2000"))
timeout = int(os.environ.get("GATEWAY_WORKER_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 75
accesslog = os.environ.get("GATEWAY_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
wsgi_app = "gateway_project.wsgi:application"
control_socket_disable = True  # several gateways may run on one machine (tests, bench)


def on_starting(server) -> None:
    """Start the embedded Redis once, in the master, so every worker shares it, and supervise it.

    The supervisor lives on the arbiter, not in this module: a HUP re-reads this file."""
    if not os.environ.get("REDIS_URL"):
        server.embedded_redis = EmbeddedRedisSupervisor(VAR_DIR)
        server.embedded_redis.start(spawn=gevent.spawn)


def on_exit(server) -> None:
    """TERM, INT, QUIT (also after any number of HUPs): stop the embedded Redis we run."""
    supervisor = getattr(server, "embedded_redis", None)
    if supervisor is not None:
        supervisor.stop()
