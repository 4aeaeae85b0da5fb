"""Our gateway under gunicorn on an isolated var dir, and a small client of its admin API."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from bench import procs
from bench.config import REPO_ROOT

GUNICORN_CONFIG = "gateway_project/gunicorn.conf.py"  # what `make run` starts gunicorn with
# Variables that would point the gateway at shared state instead of its own var dir.
ISOLATED_VARIABLES = ("REDIS_URL", "DATABASE_URL", "GATEWAY_ROLE", "GATEWAY_ACCESS_LOG")


# Metrics and the access log on (a file, as in production) or both off: measured side by side.
OBSERVED = {"GATEWAY_METRICS": "true", "GATEWAY_ACCESS_LOG": "{var_dir}/access.log"}
UNOBSERVED = {"GATEWAY_METRICS": "false", "GATEWAY_ACCESS_LOG": "off"}


def gateway_environment(
    var_dir: Path, port: int, workers: int, observed: bool = True
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ISOLATED_VARIABLES}
    env.update(
        GATEWAY_VAR_DIR=str(var_dir),
        GATEWAY_BIND=f"{procs.LOOPBACK}:{port}",
        WEB_CONCURRENCY=str(workers),
        DEBUG="0",
        LOG_LEVEL="WARNING",
    )
    for name, value in (OBSERVED if observed else UNOBSERVED).items():
        env[name] = value.format(var_dir=var_dir)
    return env


def log_tail(var_dir: Path, lines: int = 30) -> str:
    """The end of the gateway's log (gunicorn and manage.py stderr) in `var_dir`."""
    try:
        return "\n".join((var_dir / "gateway.log").read_text().splitlines()[-lines:])
    except OSError:
        return ""


def stop_redis(var_dir: Path) -> None:
    """Stop the embedded Redis of `var_dir` if it still runs."""
    procs.kill_pid_file(var_dir / "redis.pid", str(var_dir))


@dataclass
class GatewayServer:
    """gunicorn master and workers serving the gateway, started the way `make run` does."""

    port: int
    var_dir: Path
    token: str
    process: subprocess.Popen

    @classmethod
    def start(
        cls,
        python: Path,
        var_dir: Path,
        port: int,
        workers: int,
        observed: bool = True,
        *,
        launcher: tuple[str, ...] = (),
        config: str = GUNICORN_CONFIG,
        extra_env: dict[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> GatewayServer:
        """Migrate, create an admin token, start gunicorn with `config` (under `launcher`, such
        as valgrind, when given) and wait for its `workers`."""
        env = gateway_environment(var_dir, port, workers, observed) | (extra_env or {})
        log = var_dir / "gateway.log"

        def manage(*args: str) -> str:
            result = subprocess.run(
                [str(python), "manage.py", *args],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            with open(log, "a") as out:
                out.write(result.stderr)
            if result.returncode:
                last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"manage.py {args[0]} failed: {last_line}")
            return result.stdout

        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            manage("migrate", "--noinput")
            token = manage("create_admin_token", "--username", "bench").strip().splitlines()[-1]
        except Exception:
            stop_redis(var_dir)  # manage.py may have started it
            raise
        gunicorn = (
            [*launcher, str(python), "-m", "gunicorn"]
            if launcher
            else [str(python.parent / "gunicorn")]
        )
        args = [*gunicorn, "-c", config]
        server = cls(port, var_dir, token, procs.start(args, log=log, cwd=REPO_ROOT, env=env))
        try:
            procs.wait_for_port(port, server.process, timeout=start_timeout)
            server.wait_for_workers(workers, timeout=start_timeout)
        except Exception:
            server.stop()
            raise
        return server

    def wait_for_workers(self, workers: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.worker_pids()) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn has fewer than {workers} workers")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        redis = set(self.redis_pids())
        children = psutil.Process(self.process.pid).children()
        return [child.pid for child in children if child.pid not in redis]

    def pids(self) -> list[int]:
        """The processes whose cost we report: the gunicorn master and its workers."""
        return [self.process.pid, *self.worker_pids()]

    def redis_pids(self) -> list[int]:
        """The embedded Redis (a child of the gunicorn master, not a worker), reported apart."""
        pid = procs.daemon_pid(self.var_dir / "redis.pid", str(self.var_dir))
        return [pid] if pid else []

    def stop(self) -> None:
        """SIGTERM the master (its on_exit stops the embedded Redis), then make sure of it."""
        procs.stop(self.process, timeout=30)
        stop_redis(self.var_dir)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.var_dir, lines)

    @property
    def base_url(self) -> str:
        return f"http://{procs.LOOPBACK}:{self.port}"


class AdminApiError(RuntimeError):
    pass


class AdminClient:
    """JSON calls to /api/v1 with the admin token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = f"{base_url}/api/v1"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        response = self.session.request(method, self.base + path, json=payload, timeout=30)
        if response.status_code >= 300:
            detail = response.text[:500]
            raise AdminApiError(f"{method} {path}: HTTP {response.status_code} {detail}")
        return response.json()

    def plugin_catalogue(self) -> dict[str, dict[str, Any]]:
        return {entry["name"]: entry for entry in self.call("GET", "/plugins")}

    def create_route(
        self,
        *,
        subdomain: str,
        plugins: list[dict[str, Any]],
        port: int,
        public: bool,
        telemetry: dict[str, Any] | None = None,
    ) -> str:
        """A gateway routing every path to 127.0.0.1:`port`; returns one of its API keys."""
        target = {"host": procs.LOOPBACK, "port": port, "protocol": "http", "path": ""}
        rule = {"path": "/*", "public": public}
        return self._gateway(subdomain, plugins, target, rule, telemetry)

    def create_llm_route(
        self,
        *,
        subdomain: str,
        provider: str,
        port: int,
        model: str,
        plugins: list[dict[str, Any]] | None = None,
    ) -> str:
        """A gateway whose rule `/v1/*` fronts one `provider` target at 127.0.0.1:`port`, with
        the gateway's `plugins`."""
        target = {
            "provider": provider,
            "base_url": f"http://{procs.LOOPBACK}:{port}",
            "models": [model],
            "default_model": model,
            "credentials": {"api_key": "sk-bench"},
        }
        return self._gateway(subdomain, plugins or [], target, {"path": "/v1/*"})

    def _gateway(
        self,
        subdomain: str,
        plugins: list[dict[str, Any]],
        target: dict,
        rule: dict,
        telemetry: dict[str, Any] | None = None,
    ) -> str:
        """Gateway (its `telemetry` when given), upstream of one target, service, rule; returns
        one of its API keys."""
        payload = {"name": subdomain, "subdomain": subdomain, "required_plugins": plugins}
        if telemetry:
            payload["telemetry"] = telemetry
        gateway = self.call("POST", "/gateways", payload)
        prefix = f"/gateways/{gateway['id']}"
        upstream = self.call(
            "POST",
            f"{prefix}/upstreams",
            {"name": f"{subdomain}-up", "algorithm": "round-robin", "targets": [target]},
        )
        service = self.call(
            "POST",
            f"{prefix}/services",
            {"name": f"{subdomain}-svc", "type": "upstream", "upstream_id": upstream["id"]},
        )
        rule = {"methods": ["GET", "POST"], "service_id": service["id"], **rule}
        self.call("POST", f"{prefix}/rules", rule)
        return self.call("POST", f"{prefix}/keys", {"name": f"{subdomain}-key"})["key"]
