"""An upstream's `websocket_config`, compiled once per snapshot into seconds and bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway_project.durations import parse_duration_ms

DEFAULT_READ_SIZE = 65536


@dataclass(frozen=True, slots=True)
class WebSocketSettings:
    ping_period: float = 30.0
    pong_wait: float = 60.0
    handshake_timeout: float = 15.0
    idle_timeout: float = 600.0
    read_size: int = DEFAULT_READ_SIZE
    max_message_size: int = 16 * 2**20
    return_error_details: bool = False


def websocket_settings(stored: Mapping[str, Any] | None) -> WebSocketSettings:
    """The settings of an upstream's stored `websocket_config` (defaults for what it omits)."""
    stored = stored or {}
    defaults = WebSocketSettings()

    def seconds(name: str) -> float:
        value = stored.get(name)
        return parse_duration_ms(value) / 1000 if value else getattr(defaults, name)

    return WebSocketSettings(
        ping_period=seconds("ping_period"),
        pong_wait=seconds("pong_wait"),
        handshake_timeout=seconds("handshake_timeout"),
        idle_timeout=seconds("idle_timeout"),
        read_size=int(stored.get("read_buffer_size") or DEFAULT_READ_SIZE),
        max_message_size=int(stored.get("max_message_size") or defaults.max_message_size),
        return_error_details=bool(stored.get("return_error_details")),
    )
