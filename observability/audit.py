"""Admin API writes in the access log: who (user, token or session) changed what (method, path)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from observability.access_log import access_log, timestamp

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
API_PREFIX = "/api/v1/"


def actor(request: HttpRequest) -> str | None:
    """The username behind the request (DRF sets `user` on the Django request too)."""
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user.get_username()


def object_id(response: HttpResponse) -> str | None:
    """The id of the object a create answered with (DRF responses keep their data)."""
    data = getattr(response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("id"), str | int):
        return str(data["id"])
    return None


class AdminWriteLogMiddleware:
    """One access-log line per write to the admin API: never its body (it may hold secrets)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.method in WRITE_METHODS
            and request.path_info.startswith(API_PREFIX)
            and access_log.enabled
        ):
            access_log.write(
                {
                    "time": timestamp(time.time()),
                    "type": "admin_write",
                    "user": actor(request),
                    "method": request.method,
                    "path": request.path_info,
                    "status": response.status_code,
                    "object_id": object_id(response),
                }
            )
        return response
