"""Field types shared by plugin settings and the routing serializers, each validated once.

Durations and seconds, header names and values, hosts, base URLs, CORS origins, IP addresses
and CIDR ranges: what a field returns is what is stored, so stored data passes the field again.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from django.core.validators import URLValidator
from rest_framework import serializers

from gateway_project.durations import MAX_DURATION_MS, parse_duration_ms

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

HEADER_NAME_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 field-value: visible characters, obs-text, spaces and tabs; never CR, LF or NUL.
HEADER_VALUE_RE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")
HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
DEFAULT_PORTS = {"http": 80, "https": 443}


class DurationField(serializers.CharField):
    """A window such as `500ms`, `30s`, `1m`, `1h30m` or `1d` (stored in lower case)."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data).lower()
        try:
            parse_duration_ms(text)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return text


class SecondsField(serializers.Field):
    """Whole seconds as an integer, or a duration of whole seconds such as `600s` or `10m`."""

    json_schema = {"type": ["integer", "string"]}  # see plugins.schema
    invalid_message = "Give seconds or a duration such as '10m'."

    def __init__(self, *, max_value: int = MAX_DURATION_MS // 1000, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.min_value = 0
        self.max_value = max_value

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            raise serializers.ValidationError(self.invalid_message)
        if isinstance(data, int) or (isinstance(data, str) and data.strip().isdigit()):
            seconds = int(data)
        elif isinstance(data, str):
            seconds = self._duration_seconds(data)
        else:
            raise serializers.ValidationError(self.invalid_message)
        if not self.min_value <= seconds <= self.max_value:
            raise serializers.ValidationError(
                f"Must be between {self.min_value} and {self.max_value} seconds."
            )
        return seconds

    @staticmethod
    def _duration_seconds(text: str) -> int:
        try:
            milliseconds = parse_duration_ms(text)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        if milliseconds % 1000:
            raise serializers.ValidationError("Must be a whole number of seconds.")
        return milliseconds // 1000

    def to_representation(self, value: Any) -> Any:
        return value


def is_header_name(value: str) -> bool:
    """True when `value` is a syntactically valid HTTP header name (an RFC 9110 token)."""
    return bool(HEADER_NAME_RE.match(value))


class HeaderNameField(serializers.CharField):
    """An HTTP header name, kept as written."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 200)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if not is_header_name(text):
            raise serializers.ValidationError(f"{text!r} is not a valid header name.")
        return text


class HeaderValueField(serializers.CharField):
    """An HTTP header value: no CR, LF or other control characters (tabs allowed)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 8000)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)  # trims surrounding whitespace
        if not HEADER_VALUE_RE.match(text):
            raise serializers.ValidationError(
                "A header value cannot hold control characters such as CR or LF."
            )
        return text


class HeadersField(serializers.DictField):
    """Header name → value; a bad name is reported under its own key."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("child", HeaderValueField(allow_blank=True))
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        headers = super().to_internal_value(data)
        invalid = {name: [f"{name!r} is not a valid header name."] for name in headers}
        invalid = {name: error for name, error in invalid.items() if not is_header_name(name)}
        if invalid:
            raise serializers.ValidationError(invalid)
        return headers


def normalise_host(value: str) -> str:
    """A hostname (RFC 1123 labels; IDNA names in their ASCII form) or an IP address, in
    lower case, without brackets or a trailing dot; ValueError otherwise."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    try:
        ascii_host = text.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise ValueError("not a valid hostname") from exc
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(HOST_LABEL_RE.match(label) for label in labels):
        raise ValueError("not a valid hostname")
    if labels[-1].isdigit():
        raise ValueError("not a valid hostname or IP address")
    return ascii_host


class HostField(serializers.CharField):
    """A hostname or an IPv4/IPv6 address, normalised by `normalise_host`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if not text:
            return text
        try:
            return normalise_host(text)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"{text!r} is not a hostname or an IPv4/IPv6 address."
            ) from exc


class BaseURLField(serializers.URLField):
    """An http(s) URL with a host; no credentials or fragment (they would leak or vanish), and
    with `query=False` no query either (a URL that paths are appended to)."""

    def __init__(self, *, query: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2000)
        super().__init__(**kwargs)
        self.query = query
        others = [v for v in self.validators if not isinstance(v, URLValidator)]
        self.validators = [*others, URLValidator(schemes=list(DEFAULT_PORTS))]

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        parts = urlsplit(text)
        if "@" in parts.netloc or "#" in text:
            raise serializers.ValidationError("A base URL has no credentials or fragment.")
        if not self.query and "?" in text:
            raise serializers.ValidationError("A base URL has no query: paths are appended to it.")
        return text


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` in lower case without a default port; ValueError otherwise."""
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("use '*' or an origin such as https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError("an origin has no path, query, fragment or credentials")
    port = parts.port  # ValueError on a bad port
    scheme, host = parts.scheme.lower(), parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class OriginField(serializers.CharField):
    """`*` or a CORS origin, normalised by `normalise_origin`."""

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if text.strip() == "*":
            return "*"
        try:
            return normalise_origin(text)
        except ValueError as exc:
            raise serializers.ValidationError(f"{text!r} is not a valid origin: {exc}.") from exc


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
