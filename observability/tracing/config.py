"""A gateway's `telemetry` as the tracer reads it (typed, immutable), from its stored form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# header_mapping's keys (TrustGate's names) -> the span attribute each becomes.
MAPPED_ATTRIBUTES = {
    "conversation_id": "gen_ai.conversation.id",
    "session_id": "session.id",
    "interaction_id": "gateway.interaction.id",
}
TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class Exporter:
    """One destination of a gateway's spans: `otlp` (protobuf) or `http` (OTLP/JSON)."""

    name: str
    endpoint: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Telemetry:
    exporters: tuple[Exporter, ...] = ()
    request_traces: bool = True  # False: the gateway's requests are not traced at all
    plugin_traces: bool = True  # False: no span per plugin run
    extra: tuple[tuple[str, Any], ...] = ()  # attributes of every request span
    header_mapping: tuple[tuple[str, str], ...] = ()  # (attribute, request header)


def traces_url(endpoint: str) -> str:
    """A collector's base URL with OTLP's traces path (as OTEL_EXPORTER_OTLP_ENDPOINT gets it),
    or the traces URL itself."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def telemetry_of(stored: Mapping[str, Any] | None) -> Telemetry | None:
    """The typed telemetry of a gateway (None when it sets none: the environment decides)."""
    if not stored:
        return None
    exporters = tuple(
        Exporter(
            name=exporter["name"],
            endpoint=exporter["settings"]["endpoint"],
            headers=tuple(sorted((exporter["settings"].get("headers") or {}).items())),
        )
        for exporter in stored.get("exporters") or ()
    )
    return Telemetry(
        exporters=exporters,
        request_traces=stored.get("enable_request_traces", True),
        plugin_traces=stored.get("enable_plugin_traces", True),
        extra=tuple(sorted((stored.get("extra_params") or {}).items())),
        header_mapping=tuple(
            (MAPPED_ATTRIBUTES[key], header)
            for key, header in sorted((stored.get("header_mapping") or {}).items())
        ),
    )
