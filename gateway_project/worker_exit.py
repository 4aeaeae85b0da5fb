"""What a gunicorn worker does as it exits (gunicorn.conf.py's worker_exit): the callbacks apps
register here, such as the tracer's last export."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_callbacks: list[Callable[[], None]] = []


def on_worker_exit(callback: Callable[[], None]) -> None:
    if callback not in _callbacks:
        _callbacks.append(callback)


def worker_exiting() -> None:
    """Run every callback in turn; one that fails is logged and the others still run."""
    for callback in _callbacks:
        try:
            callback()
        except Exception:
            logger.exception("worker exit callback %r failed", callback)
