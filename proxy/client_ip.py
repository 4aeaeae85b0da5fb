"""The client's IP: the socket peer, or X-Real-IP / X-Forwarded-For when it is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=4096)
def _is_trusted(value: str, networks: tuple[Network, ...]) -> bool:
    """Whether `value` is an address in `networks`; worked out once per address (the peers of a
    gateway are few: its clients, or the load balancers in front of it), never without networks
    to look in."""
    if not networks:
        return False
    address = _parse(value)
    return address is not None and any(address in network for network in networks)


def client_ip(
    remote_addr: str,
    forwarded_for: str | None,
    trusted_cidrs: Sequence[str],
    real_ip: str | None = None,
) -> str:
    """The peer, unless it is a trusted proxy: then a valid X-Real-IP (read first, as TrustGate
    does), else X-Forwarded-For walked from the right, skipping trusted proxies. Headers from
    an untrusted peer are never read."""
    networks = trusted_networks(tuple(trusted_cidrs))
    if not _is_trusted(remote_addr, networks):
        return remote_addr
    real = _parse(real_ip) if real_ip else None
    if real is not None:
        return str(real)
    return _forwarded_client(remote_addr, forwarded_for or "", networks)


def _forwarded_client(remote_addr: str, forwarded_for: str, networks: tuple[Network, ...]) -> str:
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _parse(hop) is None:
            break  # garbage in the chain: trust nothing beyond the last proxy
        if not _is_trusted(hop, networks):
            return str(_parse(hop))
    return remote_addr if not hops or _parse(hops[0]) is None else str(_parse(hops[0]))
