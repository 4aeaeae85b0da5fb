"""Tell the admin client when a committed config change could not be published at once."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

HEADER = "X-Config-Propagation"
_delayed: ContextVar[bool] = ContextVar("config_propagation_delayed", default=False)


def mark_delayed() -> None:
    _delayed.set(True)


class ConfigPropagationMiddleware:
    """`X-Config-Propagation: delayed` on a response whose write was not published to Redis.

    The change is committed and workers still pick it up from the database within
    CONFIG_DB_CHECK_INTERVAL seconds, but not within CONFIG_CHECK_INTERVAL as usual.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _delayed.set(False)
        try:
            response = self.get_response(request)
            if _delayed.get():
                response[HEADER] = "delayed"
            return response
        finally:
            _delayed.reset(token)
