"""What a gunicorn worker does once it has loaded the application and as it exits
(gunicorn.conf.py's post_worker_init and worker_exit): the callbacks apps register here, such as
the health prober's start and the tracer's last export."""

from __future__ import annotations

import logging
from collections.abc import Callable

logger = logging.getLogger(__name__)

_at_start: list[Callable[[], None]] = []
_at_exit: list[Callable[[], None]] = []


def on_worker_start(callback: Callable[[], None]) -> None:
    if callback not in _at_start:
        _at_start.append(callback)


def on_worker_exit(callback: Callable[[], None]) -> None:
    if callback not in _at_exit:
        _at_exit.append(callback)


def worker_started() -> None:
    _run(_at_start)


def worker_exiting() -> None:
    _run(_at_exit)


def _run(callbacks: list[Callable[[], None]]) -> None:
    """Run every callback in turn; one that fails is logged and the others still run."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            logger.exception("worker callback %r failed", callback)
