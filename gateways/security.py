"""A gateway's `security_config` (TrustGate E2): allowed hosts, HTTPS redirect and the security
headers of its answers, validated when written."""

from __future__ import annotations

from typing import Any

import re2
from rest_framework import serializers

from gateway_project.fields import HeadersField, HeaderValueField
from gateway_project.serializers import JSONBooleanField, StrictSerializer

REFERRER_POLICIES = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
HOST_RE = r"^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$"


class SecurityConfigSerializer(StrictSerializer):
    """What TrustGate's security middleware does: a Host outside `allowed_hosts` is 403 (the
    whole host name must match, as written or, with `allowed_hosts_are_regex`, a pattern RE2
    runs); a plain-HTTP request is 301 to https with `ssl_redirect` (HTTPS is also a request
    carrying one of `ssl_proxy_headers`); answers get the headers asked for (HSTS only over
    HTTPS). `is_development` turns the host check and the redirect off."""

    allowed_hosts = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, max_length=100
    )
    allowed_hosts_are_regex = JSONBooleanField(default=False)
    ssl_redirect = JSONBooleanField(default=False)
    ssl_host = serializers.RegexField(
        HOST_RE, required=False, allow_blank=True, help_text="Redirect host (default: the Host)."
    )
    ssl_proxy_headers = HeadersField(
        required=False, help_text="Header → value meaning the client spoke HTTPS to a proxy."
    )
    sts_seconds = serializers.IntegerField(default=0, min_value=0, max_value=10 * 365 * 86400)
    sts_include_subdomains = JSONBooleanField(default=False)
    frame_deny = JSONBooleanField(default=False)
    custom_frame_options_value = HeaderValueField(
        required=False, allow_blank=True, max_length=200, help_text="Instead of DENY."
    )
    content_type_nosniff = JSONBooleanField(default=False)
    browser_xss_filter = JSONBooleanField(default=False)
    referrer_policy = serializers.ChoiceField(
        choices=REFERRER_POLICIES, required=False, allow_blank=True
    )
    content_security_policy = HeaderValueField(required=False, allow_blank=True, max_length=4000)
    is_development = JSONBooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        hosts = attrs.get("allowed_hosts") or []
        if attrs.get("allowed_hosts_are_regex"):
            errors = {}
            for index, pattern in enumerate(hosts):
                try:
                    re2.compile(pattern)
                except re2.error as exc:
                    errors[index] = [f"Not a regular expression RE2 runs in linear time: {exc}."]
            if errors:
                raise serializers.ValidationError({"allowed_hosts": errors})
        else:
            attrs["allowed_hosts"] = [host.strip().lower().rstrip(".") for host in hosts]
        return attrs
