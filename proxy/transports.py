"""How an upstream is reached when it is not directly: its egress proxy and its client TLS,
compiled once per upstream into a Transport, each with its own pools (per process)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from urllib3 import PoolManager
from urllib3.util import make_headers

from gateways.egress import tls_context
from proxy.connections import new_pool_manager


@dataclass(frozen=True)
class Transport:
    """An upstream's `proxy_config` and `client_tls` as stored; `key` names the pools."""

    key: str
    proxy_url: str | None
    proxy_auth: str | None  # user:password
    client_tls: str  # the client_tls JSON ("" for the default TLS)


MAX_MANAGERS = 64
_MANAGERS: dict[str, PoolManager] = {}
_CONTEXTS: dict[str, Any] = {}


def transport_of(
    proxy_config: Mapping[str, Any], client_tls: Mapping[str, Any]
) -> Transport | None:
    """The Transport of an upstream, None when it is reached directly with default TLS."""
    if not proxy_config and not client_tls:
        return None
    proxy_url = proxy_auth = None
    if proxy_config:
        host = proxy_config["host"]
        host = f"[{host}]" if ":" in host else host
        proxy_url = f"{proxy_config.get('protocol', 'http')}://{host}:{proxy_config['port']}"
        if proxy_config.get("username"):
            proxy_auth = f"{proxy_config['username']}:{proxy_config.get('password', '')}"
    tls = json.dumps(client_tls, sort_keys=True) if client_tls else ""
    return _transport(proxy_url, proxy_auth, tls)


def proxy_only(transport: Transport | None) -> Transport | None:
    """The transport's egress proxy without its client TLS (which is for the upstream's
    targets): how the upstream's other calls, such as OAuth2 token requests, go out."""
    if transport is None or transport.proxy_url is None:
        return None
    return _transport(transport.proxy_url, transport.proxy_auth, "")


def _transport(proxy_url: str | None, proxy_auth: str | None, tls: str) -> Transport:
    key = hashlib.sha256(f"{proxy_url}\0{proxy_auth}\0{tls}".encode()).hexdigest()
    return Transport(key, proxy_url, proxy_auth, tls)


def manager_of(transport: Transport) -> PoolManager:
    """The pools of a Transport, built on first use: CONNECT tunnels for https targets through
    its proxy (absolute-form requests for http ones), its TLS context toward the targets."""
    manager = _MANAGERS.get(transport.key)
    if manager is None:
        context = tls_context(json.loads(transport.client_tls)) if transport.client_tls else None
        headers = (
            make_headers(proxy_basic_auth=transport.proxy_auth) if transport.proxy_auth else None
        )
        manager = new_pool_manager(
            proxy_url=transport.proxy_url, proxy_headers=headers, ssl_context=context
        )
        if len(_MANAGERS) >= MAX_MANAGERS:  # upstreams changed many times: start afresh
            _MANAGERS.clear()
        _MANAGERS[transport.key] = manager
    return manager


def tls_of(transport: Transport) -> Any:
    """The SSLContext of a Transport's client TLS toward its targets (None for the default),
    built on first use: what proxy.http1 connects with when no egress proxy is in between."""
    if not transport.client_tls:
        return None
    context = _CONTEXTS.get(transport.key)
    if context is None:
        if len(_CONTEXTS) >= MAX_MANAGERS:
            _CONTEXTS.clear()
        context = _CONTEXTS[transport.key] = tls_context(json.loads(transport.client_tls))
    return context
