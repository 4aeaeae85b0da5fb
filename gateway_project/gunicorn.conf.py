"""gunicorn configuration: gevent workers, one per core, embedded Redis started by the master."""

import gevent
from gevent import monkey

monkey.patch_all()  # before anything imports ssl, socket or redis (the workers inherit them)

from gateway_project import env  # noqa: E402
from gateway_project.binding import metrics_exposure  # noqa: E402
from gateway_project.embedded_redis import EmbeddedRedisSupervisor  # noqa: E402
from gateway_project.metrics_dir import MetricsDirectory  # noqa: E402
from gateway_project.worker_hooks import worker_exiting, worker_started  # noqa: E402

bind = env.read("GATEWAY_BIND")
worker_class = "gateway_project.workers.GatewayGeventWorker"  # gevent, quick stops
workers = env.read("WEB_CONCURRENCY")
worker_connections = env.read("GATEWAY_WORKER_CONNECTIONS")
timeout = env.read("GATEWAY_WORKER_TIMEOUT")
graceful_timeout = 20
keepalive = 75
accesslog = None  # the gateway writes its own JSON access log (GATEWAY_ACCESS_LOG)
errorlog = "-"
loglevel = env.read("LOG_LEVEL").lower()
wsgi_app = "gateway_project.wsgi:application"
control_socket_disable = True  # several gateways may run on one machine (tests, bench)


def on_starting(server) -> None:
    """Refuse to listen beyond loopback with /metrics open (gunicorn prints the RuntimeError
    and exits 1, before binding); start the embedded Redis once, in the master, so every worker
    shares it, and supervise it; prepare the directory the workers' metric files go to (before
    any worker starts).

    The supervisor lives on the arbiter, not in this module: a HUP re-reads this file."""
    if problem := metrics_exposure(server.cfg.bind, env.read("GATEWAY_METRICS_TOKEN")):
        raise RuntimeError(problem)
    server.metrics_directory = MetricsDirectory.prepare(env.read("PROMETHEUS_MULTIPROC_DIR"))
    if not env.read("REDIS_URL"):
        server.embedded_redis = EmbeddedRedisSupervisor(env.var_dir())
        server.embedded_redis.start(spawn=gevent.spawn)


def worker_exit(server, worker) -> None:
    """In the exiting worker: what the apps asked for (the tracer exports the spans it still
    holds, a dead collector holding the exit up 5 s at most)."""
    worker_exiting()


def post_worker_init(worker) -> None:
    """Once the worker has loaded the application: what the apps asked for (each worker runs a
    health prober; a lease in Redis lets one per node probe: proxy.probes)."""
    worker_started()


def child_exit(server, worker) -> None:
    """A worker is gone: its live gauges (active streams, target health) stop counting."""
    server.metrics_directory.worker_exited(worker.pid)


def on_exit(server) -> None:
    """TERM, INT, QUIT (also after any number of HUPs): stop the embedded Redis we run, remove
    the metrics directory we made."""
    server.metrics_directory.remove()
    supervisor = getattr(server, "embedded_redis", None)
    if supervisor is not None:
        supervisor.stop()
