"""ip_whitelist and ip_blacklist: allow or deny clients by the proxy-derived client IP."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rest_framework import serializers

from gateway_project.fields import (
    Address,
    CIDRField,
    IPAddressField,
    Network,
    parse_address,
    parse_network,
)
from gateway_project.serializers import JSONBooleanField
from plugins.base import Plugin, PluginSettingsSerializer
from plugins.configs import Config
from plugins.sdk.context import PluginRejection, RequestContext

MAX_ENTRIES = 10_000


@dataclass(frozen=True, kw_only=True)
class IPFilterConfig(Config):
    enabled: bool = True
    ips: tuple[str, ...] = ()
    cidrs: tuple[str, ...] = ()


class IPFilterSettingsSerializer(PluginSettingsSerializer):
    enabled = JSONBooleanField(
        default=IPFilterConfig.enabled,
        help_text="false: every request passes (the entries may then be empty).",
    )
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
        if attrs["enabled"] and not attrs.get("ips") and not attrs.get("cidrs"):
            message = ["Give at least one entry in ips or cidrs."]
            raise serializers.ValidationError({"ips": message, "cidrs": message})
        return attrs


class IPMatcher:
    """Exact addresses in a set, ranges collapsed per IP version; built once."""

    def __init__(self, ips: Sequence[str], cidrs: Sequence[str]) -> None:
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
    Config = IPFilterConfig
    config: IPFilterConfig
    reject_when_matched: ClassVar[bool]
    category = "application_security"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.enabled: bool = self.config.enabled
        self.matcher = IPMatcher(self.config.ips, self.config.cidrs)

    def pre_request(self, request: RequestContext) -> None:
        if not self.enabled:
            return
        # Only the proxy-derived client IP counts (X-Real-IP or X-Forwarded-For only from
        # GATEWAY TRUSTED_PROXIES); client-supplied headers are never read here.
        matched = self.matcher.matches(parse_address(request.client_ip))
        if matched == self.reject_when_matched:
            raise PluginRejection(403, "forbidden")


class IPWhitelistPlugin(IPFilterPlugin):
    name = "ip_whitelist"
    description = "Only clients whose IP is listed (addresses or CIDR ranges) get through."
    reject_when_matched = False
    label = "IP Whitelist"


class IPBlacklistPlugin(IPFilterPlugin):
    name = "ip_blacklist"
    description = "Clients whose IP is listed (addresses or CIDR ranges) are refused with 403."
    reject_when_matched = True
    label = "IP Blacklist"
