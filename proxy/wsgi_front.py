"""The WSGI front: requests to a gateway host go straight to the proxy, without Django's request
handler around it; every other request goes to Django."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_path_info
from django.http import HttpResponseBase
from django.utils.log import log_response

from gateway_project.conf import gateway_settings
from gateway_project.db_connections import close_request_connections
from observability.probes import PROBES
from proxy.middleware import InvalidHost, gateway_subdomain
from proxy.orchestrator import handle_proxy_request
from proxy.responses import stored_lines
from proxy.system_routes import system_route

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def proxied_subdomain(environ: dict[str, Any]) -> str | None:
    """The gateway subdomain the proxy serves this request for, else None: probes and system
    routes (on every host), the admin plane and a malformed Host are answered by Django (and
    proxy.middleware there, as before)."""
    if gateway_settings.ROLE == "admin":
        return None
    path_info = get_path_info(environ)
    if path_info in PROBES or system_route(path_info) is not None:
        return None
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    try:
        return gateway_subdomain(host, gateway_settings.BASE_DOMAIN)
    except InvalidHost:
        return None


class ProxyFront:
    """Proxy traffic skips what the proxy does not use of Django's WSGI handler: the
    request_started signal, the script prefix and URLconf of the thread, the middleware chain
    (the proxy middleware, first in it, hands gateway hosts to the proxy anyway). What it
    keeps: the request object, an exception answered as Django would, 4xx and 5xx answers
    logged by `django.request`, the answer's headers and cookies as the handler writes them,
    and, when the answer is closed, what request_finished did for it (see ProxyAnswer)."""

    def __init__(self, django: WSGIApp) -> None:
        self.django = django

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        subdomain = proxied_subdomain(environ)
        if subdomain is None:
            return self.django(environ, start_response)
        request = WSGIRequest(environ)
        try:
            response = handle_proxy_request(request, subdomain)
        except Exception as exc:  # as Django's handler answers it (500, logged)
            response = response_for_exception(request, exc)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response(
                "%s: %s",
                response.reason_phrase,
                request.path,
                response=response,
                request=request,
            )
        start_response(f"{response.status_code} {response.reason_phrase}", header_lines(response))
        return ProxyAnswer(response)


def header_lines(response: HttpResponseBase) -> list[tuple[str, str]]:
    """The answer's header lines as Django's handler lists them (`items()`, then the cookies),
    for any Django response the front answers with."""
    lines = stored_lines(response)
    if response.cookies:
        lines += [("Set-Cookie", c.output(header="")) for c in response.cookies.values()]
    return lines


class ProxyAnswer:
    """A proxied answer as the server sends it: the response's bytes, then its close without
    Django's request_finished (whose receivers close the caches, reset the URLconf and look up
    every database alias: ~130 k instructions a request): the response's closers (the upstream's
    body, a stream's observation, the request) and the database connections the request opened.
    A WebSocket relay's answer still says its connection was taken over (see
    gateway_project/workers.py)."""

    __slots__ = ("response", "socket_taken_over")

    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response
        self.socket_taken_over = getattr(response, "socket_taken_over", False)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.response)

    def close(self) -> None:
        response = self.response
        for closer in response._resource_closers:
            with contextlib.suppress(Exception):  # as Django's close: the answer is sent
                closer()
        response._resource_closers.clear()
        response.closed = True
        close_request_connections()
