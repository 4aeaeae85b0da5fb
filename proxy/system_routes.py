"""TrustGate's system routes on every host, before any gateway is resolved: `/health` and
`/__/health` (aliases of /healthz, in TrustGate's shape), and with GATEWAY_ECHO_ROUTES the test
routes `/__/ping` and `/__/mirror` (off by default: they answer anyone)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse

from gateway_project.conf import gateway_settings
from gateway_project.request_body import BodyTooLarge, read_limited
from gateway_project.responses import json_error

MIRROR_MAX_BYTES = 1024 * 1024

Handler = Callable[[HttpRequest], HttpResponse]


def _json(payload: dict) -> HttpResponse:
    response = HttpResponse(json.dumps(payload), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def health(request: HttpRequest) -> HttpResponse:
    """Alive, no I/O: `{"status": "ok", "time": <RFC 3339>}`."""
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return _json({"status": "ok", "time": now})


def ping(request: HttpRequest) -> HttpResponse:
    """GET or POST: `{"message": "pong"}`, with `query_params` (last value of each) if any."""
    if request.method not in ("GET", "POST"):
        return json_error(405, "method not allowed", headers={"Allow": "GET, POST"})
    payload: dict = {"message": "pong"}
    if request.GET:
        payload["query_params"] = {name: request.GET[name] for name in request.GET}
    return _json(payload)


def mirror(request: HttpRequest) -> HttpResponse:
    """POST: `{"body": <the request body as text>}` (at most MIRROR_MAX_BYTES)."""
    if request.method != "POST":
        return json_error(405, "method not allowed", headers={"Allow": "POST"})
    try:
        body = read_limited(request, MIRROR_MAX_BYTES)
    except BodyTooLarge:
        return json_error(413, f"request body larger than {MIRROR_MAX_BYTES} bytes")
    return _json({"body": body.decode(errors="replace")})


HEALTH_ROUTES: dict[str, Handler] = {"/health": health, "/__/health": health}
ECHO_ROUTES: dict[str, Handler] = {"/__/ping": ping, "/__/mirror": mirror}


def system_route(path: str) -> Handler | None:
    """The handler of a system route at `path`, None for any other path."""
    handler = HEALTH_ROUTES.get(path)
    if handler is None and gateway_settings.ECHO_ROUTES:
        handler = ECHO_ROUTES.get(path)
    return handler
