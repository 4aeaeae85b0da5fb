"""The JSON access log: one line per proxied request (and per admin API write).

Lines go to stdout or to the file GATEWAY_ACCESS_LOG names (`off`: nothing is formatted), each in
one write(2) so lines of concurrent workers never interleave. Only ids and names are logged:
never a key, a credential, a header value, a body or a query string.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import orjson
from django.core.signals import setting_changed

from gateway_project.conf import gateway_settings

logger = logging.getLogger(__name__)

OFF = "off"
STDOUT = 1
_escaped_dumps = json.JSONEncoder(separators=(",", ":"), default=str).encode


def encode_line(entry: dict[str, Any]) -> bytes:
    """`entry` as one line of compact UTF-8 JSON (orjson: a tenth of the standard library's
    time); a string orjson refuses (a lone surrogate) is escaped by the standard library."""
    try:
        return orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return _escaped_dumps(entry).encode() + b"\n"


class AccessLog:
    """Where lines go; opened on first use, again after the setting changes (tests)."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self._destination: str | None = None

    @property
    def enabled(self) -> bool:
        return gateway_settings.ACCESS_LOG != OFF

    def _descriptor(self) -> int:
        destination = gateway_settings.ACCESS_LOG
        if destination != self._destination:
            self.close()
            if destination == "-":  # the process's standard output, whatever sys.stdout is now
                self._fd = STDOUT
            else:
                self._fd = os.open(destination, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            self._destination = destination
        return self._fd  # type: ignore[return-value]

    def write(self, entry: dict[str, Any]) -> None:
        """Append `entry` as one JSON line (a failing write is reported, never raised)."""
        try:
            os.write(self._descriptor(), encode_line(entry))
        except (OSError, ValueError):
            logger.warning("access log unwritable (%s)", gateway_settings.ACCESS_LOG, exc_info=True)

    def close(self) -> None:
        if self._fd is not None and self._destination != "-":
            os.close(self._fd)
        self._fd = self._destination = None


access_log = AccessLog()


_second: list = [-1, ""]  # the last whole second formatted, and its text
MILLISECONDS = tuple(f".{millis:03d}Z" for millis in range(1000))  # a timestamp's ends


def timestamp(epoch: float) -> str:
    """ISO 8601 in UTC with milliseconds (the date and time formatted once a second)."""
    second = int(epoch)
    if second != _second[0]:
        _second[:] = [second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))]
    return _second[1] + MILLISECONDS[int((epoch - second) * 1000)]


def _reopen(*, setting: str, **kwargs: Any) -> None:
    if setting == "GATEWAY":
        access_log.close()


setting_changed.connect(_reopen)
