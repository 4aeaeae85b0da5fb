"""Generating and hashing secrets: API keys and admin tokens are random, stored as SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets

API_KEY_PREFIX = "gk_"
ADMIN_TOKEN_PREFIX = "gat_"
DISPLAY_PREFIX_LENGTH = 10


def new_secret(prefix: str) -> str:
    """A new secret: the kind prefix plus 256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(secret: str) -> str:
    return secret[:DISPLAY_PREFIX_LENGTH]


def digests_match(expected: str, actual: str) -> bool:
    return hmac.compare_digest(expected.encode(), actual.encode())
