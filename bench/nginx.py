"""nginx instances of the benchmark: the mock upstream and the reference reverse proxy."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench import procs
from bench.config import CHAT_COMPLETION, JSON_BODY, compact_json

# The Host of the nginx row's SSE requests (the nginx proxy sends it to the SSE server).
SSE_HOST = "bench-direct-sse.localhost"


def nginx_binary() -> str:
    """The nginx executable (Debian puts it in /usr/sbin, which may not be on PATH)."""
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise RuntimeError("nginx is not installed: run `make -C bench deps` (apt-get)")
    return found


def nginx_version() -> str:
    result = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=True)
    return result.stderr.strip().rsplit("/", 1)[-1]


def literal(text: str) -> str:
    """`text` as a single-quoted nginx string (nginx would expand `$`, so refuse it)."""
    if "$" in text:
        raise ValueError("nginx string literals cannot contain '$'")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main_config(prefix: Path, http_body: str) -> str:
    """A complete foreground nginx configuration whose files all live in `prefix`."""
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"    {kind}_temp_path {prefix / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"{user}worker_processes auto;\ndaemon off;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 8192; }\n"
        "http {\n    access_log off;\n    server_tokens off;\n"
        "    keepalive_timeout 75s;\n    keepalive_requests 1000000;\n"
        f"{temp_paths}{http_body}}}\n"
    )


def upstream_http(port: int) -> str:
    """The mock upstream: fixed JSON answers for /json and /v1/chat/completions; /v1/traces
    takes a traced gateway's spans (OTLP/HTTP) and answers 200."""
    return (
        f"    server {{\n        listen 127.0.0.1:{port} default_server backlog=4096;\n"
        "        default_type application/json;\n"
        f"        location = /json {{ return 200 {literal(compact_json(JSON_BODY))}; }}\n"
        "        location = /v1/chat/completions "
        f"{{ return 200 {literal(compact_json(CHAT_COMPLETION))}; }}\n"
        f"        location = /v1/traces {{ return 200 {literal('')}; }}\n"
        f"        location / {{ return 404 {literal(compact_json({'error': 'not found'}))}; }}\n"
        "    }\n"
    )


def proxy_location(path: str, upstream: str, extra: str = "") -> str:
    return (
        f"        location {path} {{\n            proxy_pass http://{upstream};\n"
        "            proxy_http_version 1.1;\n"
        '            proxy_set_header Connection "";\n'
        "            proxy_set_header Host $host;\n"
        f"{extra}        }}\n"
    )


def proxy_http(port: int, upstream_port: int, sse_port: int) -> str:
    """The reference reverse proxy: keep-alive upstream pools; requests for SSE_HOST go to the
    SSE server unbuffered (whatever their path: the SSE rows POST a streamed chat)."""
    return (
        f"    upstream mock {{ server 127.0.0.1:{upstream_port}; keepalive 128; }}\n"
        f"    upstream sse {{ server 127.0.0.1:{sse_port}; keepalive 32; }}\n"
        f"    server {{\n        listen 127.0.0.1:{port} default_server backlog=4096;\n"
        + proxy_location("/", "mock")
        + "    }\n"
        + f"    server {{\n        listen 127.0.0.1:{port};\n        server_name {SSE_HOST};\n"
        + proxy_location("/", "sse", "            proxy_buffering off;\n")
        + "    }\n"
    )


@dataclass
class Nginx:
    """One running foreground nginx (master plus workers) with its own prefix directory."""

    port: int
    process: subprocess.Popen

    @classmethod
    def start(cls, prefix: Path, port: int, http_body: str) -> Nginx:
        prefix.mkdir(parents=True, exist_ok=True)
        config = prefix / "nginx.conf"
        config.write_text(main_config(prefix, http_body))
        args = [nginx_binary(), "-p", str(prefix), "-c", str(config), "-e", "stderr"]
        process = procs.start(args, log=prefix / "stderr.log")
        procs.wait_for_port(port, process)
        return cls(port, process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        procs.stop(self.process)
