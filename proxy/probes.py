"""Active health checks: one prober per node GETs each target's health path every interval."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import close_old_connections
from urllib3 import Retry, Timeout
from urllib3.exceptions import HTTPError

from gateway_project.conf import gateway_settings
from gateway_project.invalidation import published_counter
from gateway_project.redis_client import redis_client
from gateways.models import Upstream
from gateways.versions import Stamp, current_stamp
from proxy.connections import UpstreamAddressDenied, new_pool_manager
from proxy.health import health_scope, probe_key
from proxy.snapshot import target_of

logger = logging.getLogger(__name__)

TICK = 0.1  # seconds between two looks at what is due
MAX_CONCURRENT = 32  # probes in flight at once (greenlets under gevent)
RELOAD_SECONDS = 1.0  # how often the published config counter is read (a change: read again)
LEASE_SECONDS = 3.0  # a prober that stops renewing its lease hands over after this long
LEASE_RENEW = 1.0  # seconds between two asks for the lease (renewals by its holder)
PROBE_TIMEOUT = 5.0  # seconds a probe waits at most (less when the interval is shorter)
# Renew the lease when this process holds it, or take it when nobody does; 1 when held.
LEASE_SCRIPT = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
POOLS = new_pool_manager()


def node_name() -> str:
    """This node: its host and its gunicorn master (every worker of a node has the same)."""
    return f"{socket.gethostname()}:{os.getppid()}"


@dataclass
class Prober:
    """Probes every target of the upstreams whose health checks have a `path`, when this
    process holds its node's lease in Redis (so one worker per node probes). `threshold`
    failed probes in a row set the target's probe key (SharedHealth leaves it out); a passing
    probe deletes it. The key lives three intervals unless renewed: a prober gone silent
    leaves no target out for long."""

    node: str
    owner: str = field(default_factory=lambda: f"{os.getpid()}:{uuid.uuid4().hex}")
    due: dict[tuple[str, int], float] = field(default_factory=dict)
    failures: dict[tuple[str, int], int] = field(default_factory=dict)
    upstreams: list[Upstream] = field(default_factory=list)
    loaded: Stamp | None = None  # the database's config counter when the upstreams were read
    loaded_at: float = float("-inf")
    polled_at: float = float("-inf")

    @property
    def lease_key(self) -> str:
        return "gw:{probes}:lease:" + self.node

    def holds_lease(self) -> bool:
        script = redis_client().register_script(LEASE_SCRIPT)
        return bool(script(keys=[self.lease_key], args=[self.owner, int(LEASE_SECONDS * 1000)]))

    def run_once(self) -> int:
        """Probe what is due, concurrently; the number of probes sent."""
        now = time.monotonic()
        if self._config_changed(now):
            self.loaded = current_stamp()
            self.upstreams = list(Upstream.objects.filter(health_checks__has_key="path"))
            self.loaded_at = now
            close_old_connections()
            self._forget_others()
        due = []
        for upstream in self.upstreams:
            checks = upstream.health_checks
            scope = health_scope(upstream.id, upstream.updated_at)
            interval = float(checks.get("interval", 10))
            for index, data in enumerate(upstream.targets):
                if now < self.due.get((scope, index), 0.0):
                    continue
                self.due[(scope, index)] = now + interval
                url = target_of(f"{upstream.id}:{index}", data, index).base_url + checks["path"]
                due.append((scope, index, url, checks, interval))
        if due:
            with ThreadPoolExecutor(max_workers=min(len(due), MAX_CONCURRENT)) as pool:
                passed = list(pool.map(lambda job: probe(job[2], job[3], job[4]), due))
            for (scope, index, _, checks, interval), result in zip(due, passed, strict=True):
                self._record(scope, index, result, checks, interval)
        return len(due)

    def _config_changed(self, now: float) -> bool:
        """Whether the upstreams must be read again: the config counter Redis publishes moved
        since they were read (looked at every RELOAD_SECONDS), or CONFIG_DB_CHECK_INTERVAL
        passed (a publish Redis missed). An unchanged config costs one Redis read, not a
        database query."""
        if self.loaded is None or now - self.loaded_at >= gateway_settings.CONFIG_DB_CHECK_INTERVAL:
            return True
        if now - self.polled_at < RELOAD_SECONDS:
            return False
        self.polled_at = now
        return published_counter(self.loaded.epoch) != self.loaded.counter

    def _forget_others(self) -> None:
        """Drop the state of upstreams changed or gone (their scope is not read any more)."""
        scopes = {health_scope(upstream.id, upstream.updated_at) for upstream in self.upstreams}
        self.due = {key: at for key, at in self.due.items() if key[0] in scopes}
        self.failures = {key: n for key, n in self.failures.items() if key[0] in scopes}

    def _record(self, scope: str, index: int, passed: bool, checks: dict, interval: float) -> None:
        key = probe_key(scope, index)
        if passed:
            self.failures.pop((scope, index), None)
            redis_client().delete(key)
            return
        failures = self.failures[(scope, index)] = self.failures.get((scope, index), 0) + 1
        if failures >= int(checks.get("threshold", 3)):
            redis_client().set(key, "1", px=int(max(3 * interval, 3 * TICK) * 1000))

    def loop(self) -> None:
        """Ask for the lease every LEASE_RENEW seconds; while held, probe what is due."""
        held, asked_at = False, float("-inf")
        while True:
            try:
                if time.monotonic() - asked_at >= LEASE_RENEW:
                    held, asked_at = self.holds_lease(), time.monotonic()
                if held:
                    self.run_once()
            except Exception:  # Redis, the database, a target: the prober outlives any failure
                held = False
                logger.exception("health probes failed; trying again")
            # Nothing to probe (no lease, or no upstream with active checks): look again when
            # the lease or the upstreams are next read, not ten times a second.
            time.sleep(TICK if held and self.upstreams else min(LEASE_RENEW, RELOAD_SECONDS))


def probe(url: str, checks: dict, interval: float) -> bool:
    """One GET of `url` with the checks' headers: passed on a 2xx or 3xx answer in time."""
    try:
        response = POOLS.request(
            "GET",
            url,
            headers={"User-Agent": "gateway-health-check", **(checks.get("headers") or {})},
            retries=Retry(0, read=False, redirect=False),
            redirect=False,
            timeout=Timeout(total=min(PROBE_TIMEOUT, interval)),
        )
    except (HTTPError, OSError, UpstreamAddressDenied):
        return False
    return 200 <= response.status < 400


def start_prober() -> threading.Thread:
    """Run this process's prober in the background (a greenlet under gunicorn's gevent)."""
    thread = threading.Thread(target=Prober(node_name()).loop, name="health-prober", daemon=True)
    thread.start()
    return thread
