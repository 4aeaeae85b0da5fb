"""JSON error responses of the proxy, in the admin plane's `{"error": ...}` shape."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse


def json_error(
    status: int,
    message: str | dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> HttpResponse:
    response = HttpResponse(
        json.dumps({"error": message, **extra}), status=status, content_type="application/json"
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response
