"""GATEWAY_UPSTREAM_DENY: networks no upstream may point into (an optional SSRF guard)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

from rest_framework import serializers

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
