"""Run the real gateway under gunicorn (several gevent workers) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.builders import http_post
from tests.upstream import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class GatewayServer:
    """gunicorn on a free loopback port; SQLite in its own var dir, or the database at
    `database_url` (several nodes may share one); a given Redis, or (`redis_url` None) the
    embedded Redis the gunicorn master runs in the var dir."""

    def __init__(
        self,
        var_dir: Path,
        redis_url: str | None,
        workers: int = 3,
        database_url: str | None = None,
        **env: str,
    ) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "GATEWAY_VAR_DIR": str(var_dir),
            "REDIS_URL": redis_url or "",
            "WEB_CONCURRENCY": str(workers),
            "GATEWAY_BIND": f"127.0.0.1:{self.port}",
            "DJANGO_SETTINGS_MODULE": "gateway_project.settings",
            **env,
        }
        self.env.pop("DATABASE_URL", None)
        if not redis_url:
            self.env.pop("REDIS_URL")
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.process: subprocess.Popen | None = None
        self.admin = requests.Session()

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def start(self, migrate: bool = True) -> GatewayServer:
        """Migrate (unless another node on the same database did), mint a token, serve."""
        if migrate:
            self.manage("migrate", "--noinput")
        token = self.manage("create_admin_token", "--username", "e2e")
        self.admin.headers["Authorization"] = f"Bearer {token}"
        self.launch()
        self._wait_ready()
        return self

    def launch(self, *gunicorn_args: str) -> subprocess.Popen:
        """Start gunicorn (its output in gunicorn.log) without waiting for it to serve."""
        self.log = open(self.var_dir / "gunicorn.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "gateway_project/gunicorn.conf.py", *gunicorn_args],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self.process

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.admin.get(self.base_url + "/api/v1/gateways", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            time.sleep(0.1)
        raise RuntimeError((self.var_dir / "gunicorn.log").read_text())

    def stop(self) -> float:
        """A graceful stop (SIGTERM, as systemd and Kubernetes send); returns its duration."""
        started = time.monotonic()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        return time.monotonic() - started

    @property
    def post(self):
        return http_post(self.admin, self.base_url)

    def proxy(
        self,
        subdomain: str,
        path: str,
        *,
        method: str = "GET",
        key: str | None = None,
        session: requests.Session | None = None,
        **kwargs,
    ) -> requests.Response:
        headers = {"Host": f"{subdomain}.localhost", **kwargs.pop("headers", {})}
        if key:
            headers["X-API-Key"] = key
        return (session or requests).request(
            method, self.base_url + path, headers=headers, timeout=10, **kwargs
        )
