"""The config version in Redis: bumped after every committed admin write, polled by workers."""

from __future__ import annotations

import logging
import time

import redis
from django.db import transaction
from django_redis import get_redis_connection

from gateway_project.conf import gateway_settings

logger = logging.getLogger(__name__)

VERSION_KEY = "gw:config-version"


def bump_config_version() -> None:
    """Increment the shared version so every worker drops its compiled snapshots."""
    try:
        get_redis_connection("default").incr(VERSION_KEY)
    except redis.RedisError:
        logger.exception(
            "could not publish a configuration change; workers stay stale until Redis is back"
        )
    local_version.forget()


def config_changed(**kwargs: object) -> None:
    """Signal receiver: publish the change once the surrounding transaction commits."""
    transaction.on_commit(bump_config_version)


class LocalVersion:
    """This process's view of the shared version, refreshed at most every CONFIG_CHECK_INTERVAL."""

    def __init__(self) -> None:
        self.value: int | None = None
        self.checked_at = 0.0

    def current(self) -> int | None:
        now = time.monotonic()
        if self.value is None or now - self.checked_at >= gateway_settings.CONFIG_CHECK_INTERVAL:
            self.checked_at = now
            self.value = self._read(default=self.value)
        return self.value

    @staticmethod
    def _read(default: int | None) -> int | None:
        try:
            raw = get_redis_connection("default").get(VERSION_KEY)
        except redis.RedisError:
            logger.warning(
                "configuration version unreadable (Redis down); serving the cached config"
            )
            return default if default is not None else -1
        return int(raw or 0)

    def forget(self) -> None:
        self.value = None


local_version = LocalVersion()
