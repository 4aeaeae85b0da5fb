"""How the gateway reaches an upstream: egress proxy, client TLS and OAuth2 target auth
(serializers, write-only secrets, and the TLS context both the admin and the proxy build)."""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any

from requests.utils import DEFAULT_CA_BUNDLE_PATH
from rest_framework import serializers
from urllib3.util.ssl_ import create_urllib3_context

from gateway_project.fields import BaseURLField, HostField
from gateway_project.secret_masking import MASK
from gateway_project.serializers import JSONBooleanField, StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address
from gateways.models import PORT_VALIDATORS

# TLS versions toward an upstream: TrustGate's names; 1.0 and 1.1 are refused (broken).
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
WEAK_TLS_VERSIONS = ("TLS10", "TLS11")
PEM_MAX = 64_000
SCOPE_RE = r"^[\x21\x23-\x5b\x5d-\x7e]+$"  # RFC 6749 scope-token


class SecretField(serializers.CharField):
    """A write-only value: answers show MASK; a MASK sent back keeps the stored value
    (restore_masked)."""

    def to_representation(self, value: Any) -> str:
        return MASK if value else ""


def restore_masked(
    data: dict[str, Any], stored: Mapping[str, Any] | None, names: tuple[str, ...]
) -> dict[str, Any]:
    """The secrets of `data` sent back as MASK get their stored value; a MASK with nothing
    stored behind it is refused (it would be sent upstream as the secret)."""
    errors = {}
    for name in names:
        if data.get(name) != MASK:
            continue
        if stored and stored.get(name):
            data[name] = stored[name]
        else:
            errors[name] = [f"{MASK!r} is the mask of a stored secret; send the secret itself."]
    if errors:
        raise serializers.ValidationError(errors)
    return data


class OptionalObjectSerializer(StrictSerializer):
    """An object that may be absent: `{}` or null removes it (stored as `{}`, answered as
    null)."""

    def to_internal_value(self, data: Any) -> Any:
        return {} if data == {} else super().to_internal_value(data)

    def to_representation(self, instance: Any) -> dict[str, Any] | None:
        return super().to_representation(instance) if instance else None


class ProxyConfigSerializer(OptionalObjectSerializer):
    """An egress HTTP proxy every request to the upstream goes through: CONNECT tunnels for
    https targets, absolute-form requests for http ones; Basic credentials, write-only."""

    host = HostField(validators=[refuse_denied_address])
    port = serializers.IntegerField(validators=PORT_VALIDATORS, help_text="A number or a string.")
    protocol = serializers.ChoiceField(
        choices=["http", "https"], default="http", help_text="Of the proxy itself."
    )
    username = serializers.RegexField(r"^[^:\x00-\x1f\x7f]{1,200}$", required=False)
    password = SecretField(required=False, max_length=1000, help_text="Write-only.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("password") and not attrs.get("username"):
            raise serializers.ValidationError({"username": ["A password goes with a username."]})
        return attrs


class ClientCertsSerializer(StrictSerializer):
    certificate = serializers.CharField(max_length=PEM_MAX, help_text="PEM, the client chain.")
    private_key = SecretField(max_length=PEM_MAX, help_text="PEM, write-only.")


class TLSVersionField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=list(TLS_VERSIONS), required=False, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if data in WEAK_TLS_VERSIONS:
            raise serializers.ValidationError(f"{data} is broken; use TLS12 or TLS13.")
        return super().to_internal_value(data)


class ClientTLSSerializer(OptionalObjectSerializer):
    """TLS toward the upstream's https targets: a client certificate (mutual TLS), a private
    CA the upstream's certificate is verified against, and the versions allowed."""

    client_certs = ClientCertsSerializer(required=False)
    ca_cert = serializers.CharField(required=False, max_length=PEM_MAX, help_text="PEM.")
    disable_system_ca_pool = JSONBooleanField(
        default=False, help_text="Verify against ca_cert alone, not the public authorities too."
    )
    min_version = TLSVersionField()
    max_version = TLSVersionField()
    not_supported_yet = frozenset(
        {"allow_insecure_connections", "cipher_suites", "curve_preferences"}
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        low, high = attrs.get("min_version"), attrs.get("max_version")
        if low and high and TLS_VERSIONS[low] > TLS_VERSIONS[high]:
            raise serializers.ValidationError({"max_version": ["Below min_version."]})
        if attrs.get("disable_system_ca_pool") and not attrs.get("ca_cert"):
            raise serializers.ValidationError(
                {"ca_cert": ["Needed when the system CA pool is disabled."]}
            )
        return attrs

    def check_loads(self, attrs: dict[str, Any]) -> None:
        """Whether the PEMs load (secrets restored first: a MASK is no key)."""
        try:
            tls_context(attrs, only="ca")
        except (ssl.SSLError, ValueError) as exc:
            detail = {"ca_cert": [f"Not a PEM certificate: {exc}."]}
            raise serializers.ValidationError(detail) from exc
        try:
            tls_context(attrs, only="client")
        except (ssl.SSLError, ValueError) as exc:
            raise serializers.ValidationError(
                {"client_certs": {"private_key": [f"Not a PEM key of the certificate: {exc}."]}}
            ) from exc


def tls_context(config: Mapping[str, Any], only: str = "") -> ssl.SSLContext:
    """The SSLContext of a validated `client_tls`: certificates verified (certifi's bundle
    unless disabled, plus `ca_cert`), the versions, the client chain. The key is loaded from a
    private temporary file removed at once (ssl loads chains from files only)."""
    context = create_urllib3_context(
        ssl_minimum_version=TLS_VERSIONS.get(config.get("min_version") or "TLS12"),
        ssl_maximum_version=TLS_VERSIONS.get(config.get("max_version") or ""),
    )
    if only != "client":
        if not config.get("disable_system_ca_pool"):
            context.load_verify_locations(DEFAULT_CA_BUNDLE_PATH)
        if config.get("ca_cert"):
            context.load_verify_locations(cadata=config["ca_cert"])
    certs = config.get("client_certs") or {}
    if only != "ca" and certs:
        fd, path = tempfile.mkstemp(suffix=".pem")  # mode 0600
        try:
            with os.fdopen(fd, "w") as pem:
                pem.write(certs["certificate"].strip() + "\n" + certs["private_key"].strip())
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
    return context


class OAuthSerializer(StrictSerializer):
    """OAuth2 client credentials (RFC 6749 4.4): the token is fetched from `token_url`, cached
    until shortly before it expires (shared by every worker through Redis) and sent as
    `Authorization: Bearer`; a 401 from the target fetches a new one once."""

    token_url = BaseURLField(validators=[refuse_denied_address])
    grant_type = serializers.ChoiceField(
        choices=["client_credentials"], default="client_credentials"
    )
    client_id = serializers.CharField(max_length=1000)
    client_secret = SecretField(max_length=4000, help_text="Write-only.")
    use_basic_auth = JSONBooleanField(
        default=False, help_text="Client id and secret in HTTP Basic, else in the form body."
    )
    scopes = serializers.ListField(
        child=serializers.RegexField(SCOPE_RE, max_length=200), required=False, max_length=50
    )
    audience = serializers.CharField(required=False, max_length=2000)
    not_supported_yet = frozenset(
        {"code", "redirect_uri", "code_verifier", "refresh_token", "username", "password", "extra"}
    )

    def to_internal_value(self, data: Any) -> Any:
        grant = data.get("grant_type") if isinstance(data, dict) else None
        if grant in ("authorization_code", "password"):
            raise serializers.ValidationError(
                {"grant_type": ["Only client_credentials is supported by this gateway."]}
            )
        return super().to_internal_value(data)


class TargetAuthSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["oauth2"])
    oauth = OAuthSerializer()


def restore_masked_egress(
    attrs: dict[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """restore_masked for an upstream's proxy_config and client_tls against the stored ones."""
    stored = stored or {}
    for name in ("proxy_config", "client_tls"):
        if name in attrs and attrs[name] is None:
            attrs[name] = {}
    if attrs.get("proxy_config"):
        try:
            restore_masked(attrs["proxy_config"], stored.get("proxy_config"), ("password",))
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"proxy_config": exc.detail}) from exc
    certs = (attrs.get("client_tls") or {}).get("client_certs")
    if certs:
        previous = (stored.get("client_tls") or {}).get("client_certs")
        try:
            restore_masked(certs, previous, ("private_key",))
        except serializers.ValidationError as exc:
            detail = {"client_tls": {"client_certs": exc.detail}}
            raise serializers.ValidationError(detail) from exc
    if attrs.get("client_tls"):
        try:
            ClientTLSSerializer().check_loads(attrs["client_tls"])
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"client_tls": exc.detail}) from exc
    return attrs
