"""Helpers shared by built-in plugins (the field types live in gateway_project.fields)."""

from __future__ import annotations

import redis

# What "Redis is unavailable" means to a limiter's fail_open: it cannot be reached or answer
# writes (a replica, a cluster failing over); never a bad reply or bad input.
REDIS_UNAVAILABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.TryAgainError,
)
