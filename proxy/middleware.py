"""First middleware: probes on every host, gateway hosts to the proxy, others to the admin plane."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from gateway_project.conf import gateway_settings
from gateway_project.responses import json_error
from observability.metrics import metrics_response
from observability.probes import PROBES
from proxy.orchestrator import handle_proxy_request
from proxy.system_routes import system_route


class InvalidHost(ValueError):
    """A Host header that cannot be read as a hostname (answered with 400)."""


def normalize_host(host: str) -> str:
    """The hostname of a Host header as DNS reads it: port removed, lower case, one trailing
    dot removed, international labels in their IDNA (punycode) form."""
    host = host.strip()
    if host.startswith("["):
        return host.lower()  # an IPv6 literal
    host = host.rsplit(":", 1)[0] if ":" in host else host
    host = host[:-1] if host.endswith(".") else host
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError as exc:
        raise InvalidHost("invalid Host header") from exc
    if host and "" in host.split("."):
        raise InvalidHost("invalid Host header")  # `a..b`, `.b`, or a second trailing dot
    return host.lower()


def gateway_subdomain(host: str, base_domain: str) -> str | None:
    """The subdomain of a Host header under the base domain, else None (InvalidHost when the
    header is malformed: it must not fall through to the admin plane)."""
    host = normalize_host(host)
    if host.startswith("["):
        return None  # an IPv6 literal is never a gateway host
    suffix = "." + base_domain
    if host.endswith(suffix) and len(host) > len(suffix):
        return host[: -len(suffix)]
    return None


class GatewayProxyMiddleware:
    """Route gateway hosts to the proxy; never let them reach admin URLs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:  # on every host, before any gateway is resolved
            return probe()
        system = system_route(request.path_info)
        if system is not None:  # TrustGate's /health, /__/ping... likewise
            return system(request)
        role = gateway_settings.ROLE
        if role != "admin":
            host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
            try:
                subdomain = gateway_subdomain(host, gateway_settings.BASE_DOMAIN)
            except InvalidHost as exc:
                return json_error(400, str(exc))
            if subdomain is not None:
                return handle_proxy_request(request, subdomain)
        if role == "proxy":
            if request.path_info == "/metrics":  # a proxy-only node is scraped too
                return metrics_response(request)
            return json_error(404, "Gateway not found")
        return self.get_response(request)
