"""Portkey's open gateway beside ours (BENCH_PEERS=1): installed from npm, run with node.

`@portkey-ai/gateway` (version pinned in PORTKEY_VERSION) is installed once into the bench's
cache folder, then `build/start-server.js --headless` runs in one node process (its one event
loop; the demo console and log stream off) on a free loopback port. It keeps no keys: each
request names its provider in headers, here `openai` with a custom host, the nginx mock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import procs
from bench.config import CHAT_REQUEST
from bench.logs import log

PORTKEY_VERSION = "1.15.2"
PACKAGE = "@portkey-ai/gateway"
UPSTREAM_KEY = "sk-mock-upstream"
STARTUP_TIMEOUT_SECONDS = 60
# Anything but loopback goes to a proxy that refuses (Portkey reads HTTP(S)_PROXY itself);
# production mode leaves the demo console out, like --headless.
OFFLINE_ENVIRONMENT = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "NODE_ENV": "production",
}
DROPPED_VARIABLES = ("PORT", "REDIS_CONNECTION_STRING", "TRUSTED_CUSTOM_HOSTS")
# Its streamed answers fail on the @hono/node-server npm installs with it (1.19): "TypeError:
# immutable" in updateHeaders (Portkey-AI/gateway#1389, #1550), so it gets no SSE row.
NO_SSE = f"Portkey {PORTKEY_VERSION} answers a streamed chat request 500 (TypeError: immutable)"


def package_dir(cache: Path) -> Path:
    """A folder with `@portkey-ai/gateway@PORTKEY_VERSION` in its node_modules, installed once
    (keyed by version) with npm, install scripts off (its only one, patch-package, has no
    patches in the published package)."""
    folder = cache / f"portkey-{PORTKEY_VERSION}"
    stamp = folder / ".installed"
    if stamp.exists():
        return folder
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        raise RuntimeError("node and npm are needed (make -C bench system-deps BENCH_PEERS=1)")
    log(f"installing {PACKAGE}@{PORTKEY_VERSION} into {folder} (once)")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    manifest = {"private": True, "dependencies": {PACKAGE: PORTKEY_VERSION}}
    (folder / "package.json").write_text(json.dumps(manifest, indent=1))
    args = [npm, "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"]
    subprocess.run(args + ["--loglevel=error"], cwd=folder, check=True, timeout=600)
    stamp.touch()
    return folder


def chat_headers(upstream_port: int) -> dict[str, str]:
    """What routes a chat request through Portkey to the mock: provider, custom host, key."""
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://127.0.0.1:{upstream_port}/v1",
        "Authorization": f"Bearer {UPSTREAM_KEY}",
    }


@dataclass
class PortkeyServer:
    """Portkey's gateway: one node process."""

    port: int
    process: subprocess.Popen
    headers: dict[str, str]

    def pids(self) -> list[int]:
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [self.process.pid, *(child.pid for child in children)]


def wait_until_serving(port: int, headers: dict[str, str], process: subprocess.Popen) -> None:
    """Until a chat completion through it answers 200."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    procs.wait_for_answer(
        "portkey",
        url,
        CHAT_REQUEST,
        headers,
        process,
        timeout=STARTUP_TIMEOUT_SECONDS,
        interval=0.2,
    )


def start_portkey(cache: Path, directory: Path, upstream_port: int) -> PortkeyServer:
    """Portkey on a free port, routed to the nginx mock on `upstream_port`, or RuntimeError."""
    folder = package_dir(cache)
    directory.mkdir(parents=True, exist_ok=True)
    script = folder / "node_modules" / PACKAGE / "build" / "start-server.js"
    port = procs.free_port()
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    args = [shutil.which("node") or "node", str(script), f"--port={port}", "--headless"]
    process = procs.start(
        args, log=directory / "portkey.log", cwd=directory, env=env | OFFLINE_ENVIRONMENT
    )
    server = PortkeyServer(port, process, chat_headers(upstream_port))
    try:
        wait_until_serving(port, server.headers, process)
    except Exception:
        procs.stop(process)
        raise
    return server
