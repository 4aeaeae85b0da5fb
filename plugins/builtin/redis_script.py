"""Base of plugins that decide with one Lua script on the shared Redis, and their fail-open."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from gateway_project.redis_scripts import RedisScript
from plugins.base import Plugin
from plugins.builtin.common import REDIS_UNAVAILABLE
from plugins.sdk.context import PluginRejection

logger = logging.getLogger(__name__)


class RedisScriptPlugin(Plugin):
    """A plugin whose decision is one call of a Lua script (one Redis round trip).

    Subclasses name their script in `script_path`; its source is read once, when the class
    is defined, and called on the `default` Redis (gateway_project/redis_scripts.py: one
    EVALSHA on a held connection, or through a Redis Cluster client). `fail_open` covers Redis being
    unavailable (`REDIS_UNAVAILABLE`) in the deciding stage, nothing else: bad input or a bad
    reply refuses the request, it never admits it.
    """

    script_path: ClassVar[Path]
    script_source: ClassVar[str]
    script: ClassVar[RedisScript]
    deciding_stage: ClassVar[str] = "pre_request"
    fail_open_default = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "script_path" in cls.__dict__:
            cls.script_source = cls.script_path.read_text()
            cls.script = RedisScript(cls.script_source)

    def fails_open_on(self, stage: str, error: Exception) -> bool:
        """An unexpected error while deciding refuses the request; later stages (accounting)
        follow fail_open."""
        return stage != self.deciding_stage and self.fail_open

    def run_script(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply; raises redis errors as they come."""
        return self.script(keys, args)

    def decide(self, keys: list[str], args: list[Any]) -> Any | None:
        """The script's reply, or None when Redis is unavailable and the plugin fails open
        (the request goes through); without fail_open, 503 `<name> unavailable`."""
        try:
            return self.run_script(keys, args)
        except REDIS_UNAVAILABLE as exc:
            if not self.fail_open:
                raise PluginRejection(503, f"{self.name.replace('_', ' ')} unavailable") from exc
            logger.warning(
                "%s %s: Redis unavailable, letting the request through: %s",
                self.name,
                self.instance_id,
                exc,
            )
            return None
