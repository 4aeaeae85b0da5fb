"""/healthz (the process answers) and /readyz (database and Redis reachable), on every host."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import redis
from django.db import DatabaseError, connection
from django.http import HttpResponse

from gateway_project.redis_client import redis_client

logger = logging.getLogger(__name__)


def _json(status: int, payload: dict) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def healthz() -> HttpResponse:
    """Alive: no I/O at all."""
    return _json(200, {"status": "ok"})


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError as exc:
        logger.warning("readiness: database unreachable: %s", exc)
        return False


def redis_reachable() -> bool:
    """One PING within the cache's short socket timeouts."""
    try:
        return bool(redis_client().ping())
    except redis.RedisError as exc:
        logger.warning("readiness: Redis unreachable: %s", exc)
        return False


CHECKS: dict[str, Callable[[], bool]] = {"database": database_reachable, "redis": redis_reachable}


def readyz() -> HttpResponse:
    """200 when every dependency answers, else 503 naming those that do not."""
    checks = {name: "ok" if check() else "down" for name, check in CHECKS.items()}
    down = [name for name, state in checks.items() if state == "down"]
    if down:
        return _json(503, {"error": f"not ready: {', '.join(down)} unreachable", "checks": checks})
    return _json(200, {"status": "ready", "checks": checks})


PROBES: dict[str, Callable[[], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}
