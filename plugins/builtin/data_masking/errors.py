"""Masking errors carry no value of the text: a log never shows one through them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from plugins.sdk.context import PluginRejection

FAILED = "data masking failed"
P = ParamSpec("P")
R = TypeVar("R")


class MaskingFailed(Exception):
    """Masking raised: only the error's type is kept, not its message (which may quote the
    text) nor its traceback (chained exceptions would carry both)."""


def scrubbed(method: Callable[P, R]) -> Callable[P, R]:
    """`method`, any error of which (a rejection aside) becomes a MaskingFailed."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except PluginRejection:
            raise
        except Exception as exc:
            raise MaskingFailed(f"{FAILED}: {type(exc).__name__}") from None

    return call
