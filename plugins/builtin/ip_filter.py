"""ip_whitelist and ip_blacklist: allow or deny clients by the proxy-derived client IP."""

from __future__ import annotations

import ipaddress
from typing import Any, ClassVar

from rest_framework import serializers

from plugins.base import Plugin, PluginRejection, PluginSettingsSerializer, RequestContext
from plugins.builtin.common import validated_settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_ENTRIES = 10_000


def parse_address(value: str) -> Address | None:
    """An address from text such as `10.0.0.1`, `[::1]` or `fe80::1%eth0`; IPv4-mapped IPv6
    addresses become IPv4 so that they match IPv4 rules. None when it is not an address."""
    text = value.strip().strip("[]").split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def parse_network(value: str) -> Network:
    """A network from CIDR text (host bits allowed); IPv4-mapped IPv6 ranges become IPv4."""
    network = ipaddress.ip_network(value.strip(), strict=False)
    mapped = ipaddress.ip_network("::ffff:0:0/96")
    if isinstance(network, ipaddress.IPv6Network) and network.subnet_of(mapped):
        low = int(network.network_address) & 0xFFFFFFFF
        return ipaddress.IPv4Network((low, network.prefixlen - 96))
    return network


class IPAddressField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if parse_address(text) is None:
            raise serializers.ValidationError(f"{text!r} is not an IPv4 or IPv6 address.")
        return text


class CIDRField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            parse_network(text)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"{text!r} is not a CIDR range such as 10.0.0.0/8 or 2001:db8::/32."
            ) from exc
        return text


class IPFilterSettingsSerializer(PluginSettingsSerializer):
    ips = serializers.ListField(
        child=IPAddressField(),
        default=list,
        max_length=MAX_ENTRIES,
        help_text="IPv4 or IPv6 addresses.",
    )
    cidrs = serializers.ListField(
        child=CIDRField(),
        default=list,
        max_length=MAX_ENTRIES,
        help_text="Ranges such as 10.0.0.0/8 or 2001:db8::/32.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("ips") and not attrs.get("cidrs"):
            message = ["Give at least one entry in ips or cidrs."]
            raise serializers.ValidationError({"ips": message, "cidrs": message})
        return attrs


class IPMatcher:
    """Exact addresses in a set, ranges collapsed per IP version; built once."""

    def __init__(self, ips: list[str], cidrs: list[str]) -> None:
        self.addresses = frozenset(a for a in map(parse_address, ips) if a is not None)
        networks = [parse_network(cidr) for cidr in cidrs]
        self.networks: dict[int, tuple[Network, ...]] = {
            version: tuple(
                ipaddress.collapse_addresses(n for n in networks if n.version == version)
            )
            for version in (4, 6)
        }

    def matches(self, address: Address | None) -> bool:
        if address is None:
            return False
        if address in self.addresses:
            return True
        return any(address in network for network in self.networks[address.version])


class IPFilterPlugin(Plugin):
    """Common part of the IP filters: subclasses say whether a match allows or denies."""

    allowed_stages = ("pre_request",)
    fixed_stages = ("pre_request",)
    settings_serializer = IPFilterSettingsSerializer
    reject_when_matched: ClassVar[bool]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = validated_settings(self.settings_serializer, self.settings)
        self.matcher = IPMatcher(config["ips"], config["cidrs"])

    def pre_request(self, request: RequestContext) -> None:
        # Only the proxy-derived client IP counts: client-supplied headers are never trusted.
        matched = self.matcher.matches(parse_address(request.client_ip))
        if matched == self.reject_when_matched:
            raise PluginRejection(403, "forbidden")


class IPWhitelistPlugin(IPFilterPlugin):
    name = "ip_whitelist"
    description = "Only clients whose IP is listed (addresses or CIDR ranges) get through."
    reject_when_matched = False


class IPBlacklistPlugin(IPFilterPlugin):
    name = "ip_blacklist"
    description = "Clients whose IP is listed (addresses or CIDR ranges) are refused with 403."
    reject_when_matched = True
