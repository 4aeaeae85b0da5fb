"""The HTTP client of guardrail services: one pooled session per worker, timeouts, no retries,
no connection into GATEWAY_UPSTREAM_DENY; any failure is a GuardrailUnavailable."""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests

from gateway_project.upstream_deny import DeniedNetworksAdapter, UpstreamAddressDenied

_session: requests.Session | None = None


class GuardrailUnavailable(Exception):
    """The service could not give a verdict (unreachable, timed out, an error status, an
    unreadable answer). The message never holds the URL or headers: they may carry secrets."""


def http_session() -> requests.Session:
    """The worker's session, made at first use (after gunicorn forked the worker)."""
    global _session
    if _session is None:
        session = requests.Session()
        session.trust_env = False  # no proxy or netrc lookups per call
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # keep no cookies
        adapter = DeniedNetworksAdapter(pool_connections=32, pool_maxsize=256, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _session = session
    return _session


def call_json(
    method: str,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    params: list[tuple[str, str]] | None = None,
    payload: Any = None,
    data: bytes | None = None,
) -> Any:
    """One call (`payload` sent as JSON, or raw `data`), its JSON answer; `timeout` bounds the
    connection and each read."""
    try:
        response = http_session().request(
            method,
            url,
            headers=headers,
            params=params,
            json=payload if data is None else None,
            data=data,
            timeout=(timeout, timeout),
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise GuardrailUnavailable("timed out") from exc
    except (requests.RequestException, UpstreamAddressDenied) as exc:
        raise GuardrailUnavailable(type(exc).__name__) from exc
    with response:
        if not 200 <= response.status_code < 300:
            raise GuardrailUnavailable(f"answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise GuardrailUnavailable("answered something other than JSON") from exc
