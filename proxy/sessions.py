"""Sticky sessions: a session's requests go to the target that answered it, while it is healthy."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from gateway_project.redis_client import redis_client
from plugins.sdk.context import RequestContext
from plugins.sdk.tracing import Trace
from proxy.balancer import Balancer, Target
from proxy.outgoing import OutgoingRequest
from proxy.upstream import UpstreamResult, send

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StickySessions:
    """A rule's `session_config`, compiled: where the session is named and how long it lasts.

    The session's target is kept in Redis (`{lbs:<upstream scope>}:<session hash>`, one GET
    before the request and one SET after), shared by every worker and node; Redis errors
    route as if there were no session."""

    header_name: str
    body_path: tuple[str, ...]
    ttl: int

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> StickySessions | None:
        if not config or not config.get("enabled"):
            return None
        path = config.get("body_param_name") or ""
        return cls(
            config.get("header_name") or "",
            tuple(path.split(".")) if path else (),
            int(config.get("ttl", 3600)),
        )

    def session_of(self, context: RequestContext) -> str | None:
        """The session the request names: its header, else its JSON body field (a string or a
        number); None when it names none."""
        if self.header_name and (value := context.headers.get(self.header_name)):
            return value
        if self.body_path:
            node: Any = context.json_body()
            for name in self.body_path:
                node = node.get(name) if isinstance(node, dict) else None
            if isinstance(node, (str, int)) and not isinstance(node, bool) and str(node):
                return str(node)
        return None

    def send(
        self,
        context: RequestContext,
        balancer: Balancer,
        targets: Sequence[Target],
        build: Callable[[Target], OutgoingRequest],
        trace: Trace | None = None,
    ) -> UpstreamResult:
        """`send` with the session's target first while it is healthy (in place of the
        balancer's first choice); the target that answers becomes (or stays) the session's."""
        session = self.session_of(context)
        if session is None or not balancer.scope or len(balancer.targets) == 1:
            return send(balancer, targets, build, trace)
        digest = hashlib.sha256(session.encode()).hexdigest()
        key = "{lbs:" + balancer.scope + "}:" + digest
        pinned = _pinned(key, balancer)
        if pinned is not None and not _resting(balancer, pinned):
            others = [target for target in targets if target != pinned]
            targets = [pinned, *others][: len(targets)]
        result = send(balancer, targets, build, trace)
        try:
            redis_client().set(key, result.target.index, ex=self.ttl)
        except redis.RedisError as exc:
            logger.warning("sticky session not kept (Redis unavailable): %s", exc)
        return result


def _pinned(key: str, balancer: Balancer) -> Target | None:
    try:
        value = redis_client().get(key)
    except redis.RedisError as exc:
        logger.warning("sticky session not read (Redis unavailable): %s", exc)
        return None
    if value is None or not value.isdigit() or int(value) >= len(balancer.targets):
        return None
    return balancer.targets[int(value)]


def _resting(balancer: Balancer, target: Target) -> bool:
    """Cooling down, failing its probes or resting after a Retry-After: not kept to."""
    health = balancer.health
    if health is None:
        return False
    return target.index in health.down() or target.index in health.waits()
