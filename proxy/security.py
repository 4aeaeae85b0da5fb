"""A gateway's security_config compiled once per snapshot: allowed hosts, HTTPS redirect and
the security headers of its answers (applied by proxy.host_guard)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import re2
from django.http import HttpRequest

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SecurityPolicy:
    hosts: frozenset[str]  # allowed host names (plain)
    patterns: tuple[Any, ...]  # allowed host names (RE2, whole name)
    check_hosts: bool
    redirect: bool
    redirect_host: str  # "" for the request's own host name
    https_headers: tuple[tuple[str, str], ...]  # header -> value (lower case) meaning HTTPS
    headers: Headers  # on every answer
    hsts: str  # Strict-Transport-Security, on answers over HTTPS

    def allows(self, host: str) -> bool:
        return host in self.hosts or any(p.fullmatch(host) for p in self.patterns)

    def is_https(self, request: HttpRequest) -> bool:
        if request.is_secure():
            return True
        meta = request.META
        return any(
            meta.get("HTTP_" + name.upper().replace("-", "_"), "").lower() == value
            for name, value in self.https_headers
        )


def security_policy(config: Mapping[str, Any] | None) -> SecurityPolicy | None:
    """The policy of a validated security_config; None when it asks for nothing."""
    if not config:
        return None
    development = bool(config.get("is_development"))
    hosts = config.get("allowed_hosts") or []
    regex = bool(config.get("allowed_hosts_are_regex"))
    headers: list[tuple[str, str]] = []
    if config.get("frame_deny"):
        headers.append(("X-Frame-Options", config.get("custom_frame_options_value") or "DENY"))
    if config.get("content_type_nosniff"):
        headers.append(("X-Content-Type-Options", "nosniff"))
    if config.get("browser_xss_filter"):
        headers.append(("X-XSS-Protection", "1; mode=block"))
    if config.get("referrer_policy"):
        headers.append(("Referrer-Policy", config["referrer_policy"]))
    if config.get("content_security_policy"):
        headers.append(("Content-Security-Policy", config["content_security_policy"]))
    hsts = ""
    if config.get("sts_seconds"):
        hsts = f"max-age={config['sts_seconds']}"
        hsts += "; includeSubDomains" if config.get("sts_include_subdomains") else ""
    return SecurityPolicy(
        hosts=frozenset() if regex else frozenset(hosts),
        patterns=tuple(re2.compile(pattern) for pattern in hosts) if regex else (),
        check_hosts=bool(hosts) and not development,
        redirect=bool(config.get("ssl_redirect")) and not development,
        redirect_host=config.get("ssl_host") or "",
        https_headers=tuple(
            (name, value.lower()) for name, value in (config.get("ssl_proxy_headers") or {}).items()
        ),
        headers=tuple(headers),
        hsts=hsts,
    )
