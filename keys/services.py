"""Writes of API keys and admin tokens; each returns the plain secret exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gateways.models import Gateway
from keys.models import AdminToken, ApiKey
from keys.secrets import ADMIN_TOKEN_PREFIX, API_KEY_PREFIX, display_prefix, hash_secret, new_secret


def api_key_assign_secret(*, api_key: ApiKey) -> str:
    """Give an unsaved or existing key a new secret (digest and prefix); return the secret."""
    secret = new_secret(API_KEY_PREFIX)
    api_key.prefix = display_prefix(secret)
    api_key.key_hash = hash_secret(secret)
    return secret


@transaction.atomic
def api_key_create(
    *, gateway: Gateway, name: str, expires_at: datetime | None = None, **scopes: Any
) -> tuple[ApiKey, str]:
    """A new key; `scopes` are its policies, allowed_models, max_budget_usd, budget_duration,
    allowed_tools."""
    api_key = ApiKey(gateway=gateway, name=name, expires_at=expires_at, **scopes)
    secret = api_key_assign_secret(api_key=api_key)
    api_key.save()
    return api_key, secret


@transaction.atomic
def api_key_update(*, api_key: ApiKey, **fields: Any) -> ApiKey:
    """Change a key's name, expiry, rule, model and tool scopes or budget (validated by the
    caller); the proxy sees the change at once (the gateway's version is bumped)."""
    for name, value in fields.items():
        setattr(api_key, name, value)
    api_key.save(update_fields=list(fields) or None)
    return api_key


@transaction.atomic
def api_key_rotate(*, api_key: ApiKey) -> tuple[ApiKey, str]:
    """Give the key a new secret; the old one stops verifying at once."""
    secret = api_key_assign_secret(api_key=api_key)
    api_key.rotated_at = timezone.now()
    api_key.save(update_fields=["prefix", "key_hash", "rotated_at"])
    return api_key, secret


def api_key_revoke(*, api_key: ApiKey) -> None:
    api_key.delete()


@transaction.atomic
def admin_token_create(
    *, username: str, expires_at: datetime | None = None
) -> tuple[AdminToken, str]:
    """Create an admin token for `username` (the staff user too when needed), valid until
    `expires_at` (None: until revoked)."""
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    secret = new_secret(ADMIN_TOKEN_PREFIX)
    token = AdminToken.objects.create(
        user=user,
        prefix=display_prefix(secret),
        token_hash=hash_secret(secret),
        expires_at=expires_at,
    )
    return token, secret


LAST_USED_RESOLUTION = timedelta(minutes=1)


def admin_token_mark_used(*, token: AdminToken) -> None:
    """Record the token's use, at most one write per token and minute."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        AdminToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def admin_token_revoke(*, token: AdminToken) -> None:
    """The token stops authenticating at once (each admin request looks it up)."""
    token.delete()
