"""The gateway's Host and HTTPS checks (its security_config), before anything else is done,
and the security headers of its answer."""

from __future__ import annotations

from django.http import HttpRequest

from proxy.inbound import ProxyError
from proxy.security import Headers, SecurityPolicy

HOST_NOT_ALLOWED = "forbidden: host not allowed"


def host_name(request: HttpRequest) -> str:
    """The Host's name, as the proxy middleware read it (port and a trailing dot removed)."""
    host = request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", "")
    if not host.startswith("[") and ":" in host:
        host = host.rsplit(":", 1)[0]
    return host.strip().lower().removesuffix(".")


def guard(policy: SecurityPolicy | None, request: HttpRequest) -> Headers:
    """The gateway's Host and HTTPS checks (ProxyError: 403 for a host not allowed, 301 to
    https), then the headers its answer gets."""
    if policy is None:
        return ()
    host = host_name(request)
    if policy.check_hosts and not policy.allows(host):
        raise ProxyError(403, HOST_NOT_ALLOWED)
    https = policy.is_https(request)
    if policy.redirect and not https:
        location = f"https://{policy.redirect_host or host}{request.get_full_path()}"
        raise ProxyError(301, "use https", headers={"Location": location})
    return (
        (*policy.headers, ("Strict-Transport-Security", policy.hsts))
        if (https and policy.hsts)
        else policy.headers
    )
