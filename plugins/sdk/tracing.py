"""The request's trace as the pipeline and the proxy's phases report to it (observability's
RequestTrace implements it); a request that is not traced has none, and nothing is reported."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol


class Trace(Protocol):
    def plugin_ran(self, plugin: Any, stage: str, verdict: str, started_ns: int) -> None:
        """A plugin's hook ran from `started_ns` (time.time_ns()) to now, deciding `verdict`."""

    def attempt(self, target: Any, attempt: int, outgoing: Any) -> Any:
        """An upstream attempt begins: its span, whose context `outgoing` now carries."""

    def first_chunk(self, chunks: Generator[bytes, None, Any]) -> Generator[bytes, None, Any]:
        """`chunks`, the time of the first one recorded."""
