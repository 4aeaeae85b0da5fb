"""GATEWAY_UPSTREAM_DENY: networks no upstream or outbound service call may point into (an
optional SSRF guard), checked when an address is written and on every connection."""

from __future__ import annotations

import ipaddress
import socket
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from rest_framework import serializers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from gateway_project.conf import gateway_settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    """CIDRs such as `169.254.0.0/16` or `::1/128` (a bare address is a one-address network)."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def denied_networks() -> tuple[Network, ...]:
    """The configured deny list, parsed once per distinct setting."""
    return _networks(tuple(str(cidr) for cidr in gateway_settings.UPSTREAM_DENY))


def is_denied(address: str) -> bool:
    """Whether an IP address lies in a denied network (IPv4-mapped IPv6 counts as IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in denied_networks())


def _ip_literal(host: str) -> str | None:
    host = host.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(host.split("%", 1)[0]))
    except ValueError:
        return None


def refuse_denied_address(value: str) -> str:
    """Field validator of upstream hosts and base URLs: an IP literal in a denied network is
    refused when written (hostnames are checked when connecting, on every address)."""
    host = (urlsplit(value).hostname or "") if "://" in value else value
    address = _ip_literal(host)
    if address is not None and is_denied(address):
        raise serializers.ValidationError(
            f"{address} is in a network denied to upstreams (GATEWAY_UPSTREAM_DENY)."
        )
    return value


class UpstreamAddressDenied(Exception):
    """The upstream's host resolves into a denied network: nothing was sent (not an OSError,
    so urllib3 and requests let it through unwrapped and unretried)."""


class DenyListMixin:
    """Connects to an IP literal host straight away: no getaddrinfo, which gevent runs in its
    thread pool (a burst of new connections queued behind it). With a deny list, refuses the
    host if any of its addresses is denied, resolving a name once and connecting to exactly
    the addresses it checked (a second lookup could answer otherwise). A name without a deny
    list connects as urllib3 does."""

    _dns_host: str
    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        literal = _numeric_host(self._dns_host)
        if literal is None and not denied_networks():
            return super()._new_conn()  # type: ignore[misc]
        addresses = [literal] if literal is not None else self._resolve()
        if denied_networks() and any(is_denied(address) for address in addresses):
            raise UpstreamAddressDenied(f"{self.host} resolves into a denied network")
        failure = None
        for address in addresses:
            try:
                return self._connect_to(address)
            except (NewConnectionError, ConnectTimeoutError) as exc:
                failure = exc
        raise failure or NewConnectionError(self, "no address to connect to")  # type: ignore[arg-type]

    def _connect_to(self, address: str) -> socket.socket:
        """A socket connected to `address` (numeric), with urllib3's options and errors."""
        if "%" in address:  # an IPv6 zone: getaddrinfo finds its scope id
            dns_host, self._dns_host = self._dns_host, address
            try:
                return super()._new_conn()  # type: ignore[misc]
            finally:
                self._dns_host = dns_host
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            if self.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(self.timeout)
            if self.source_address:
                sock.bind(self.source_address)
            sock.connect((address, self.port))
        except TimeoutError as exc:
            sock.close()
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from exc
        except OSError as exc:
            sock.close()
            message = f"Failed to establish a new connection: {exc}"
            raise NewConnectionError(self, message) from exc  # type: ignore[arg-type]
        return sock

    def _resolve(self) -> list[str]:
        try:
            infos = socket.getaddrinfo(
                self._dns_host, self.port, allowed_gai_family(), socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


@lru_cache(maxsize=256)
def _numeric_host(host: str) -> str | None:
    """The address of an IP literal host as written (zone kept), None for a name."""
    return host.strip("[]") if _ip_literal(host) is not None else None


class DeniedNetworksHTTPConnection(DenyListMixin, HTTPConnection):
    pass


class DeniedNetworksHTTPSConnection(DenyListMixin, HTTPSConnection):
    pass


class DeniedNetworksHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = DeniedNetworksHTTPConnection


class DeniedNetworksHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = DeniedNetworksHTTPSConnection


class DeniedNetworksAdapter(HTTPAdapter):
    """requests' pooled adapter whose connections refuse denied networks (UpstreamAddressDenied):
    for the gateway's own outbound calls, e.g. guardrail services."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": DeniedNetworksHTTPConnectionPool,
            "https": DeniedNetworksHTTPSConnectionPool,
        }
