"""The client IP the proxy derives: peer, X-Real-IP or X-Forwarded-For from trusted proxies."""

from __future__ import annotations

import pytest

from proxy.client_ip import client_ip

TRUSTED = ["10.0.0.0/8", "::1/128"]


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "real_ip", "expected"),
    [
        ("10.0.0.2", None, "203.0.113.9", "203.0.113.9"),  # a trusted proxy's X-Real-IP
        ("::1", None, "2001:db8::7", "2001:db8::7"),
        ("10.0.0.2", "198.51.100.1", "203.0.113.9", "203.0.113.9"),  # read first, as TrustGate
        ("10.0.0.2", "198.51.100.1", "not-an-ip", "198.51.100.1"),  # invalid: X-Forwarded-For
        ("10.0.0.2", None, "", "10.0.0.2"),
        ("10.0.0.2", None, "::ffff:203.0.113.9", "203.0.113.9"),
        ("198.51.100.50", None, "203.0.113.9", "198.51.100.50"),  # untrusted peer: never read
        ("198.51.100.50", "203.0.113.1", "203.0.113.9", "198.51.100.50"),
        ("10.0.0.2", "198.51.100.1, 10.0.0.3", None, "198.51.100.1"),  # as before
    ],
)
def test_client_ip(peer, forwarded_for, real_ip, expected):
    assert client_ip(peer, forwarded_for, TRUSTED, real_ip=real_ip) == expected
