"""Reads of API keys and admin tokens, including the verification the proxy calls."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from gateways.governance import ALL_MODELS, ModelPatterns, compile_model_patterns
from keys.budgets import Budget
from keys.models import AdminToken, ApiKey
from keys.secrets import digests_match, hash_secret


@dataclass(frozen=True)
class VerifiedKey:
    """What the proxy keeps of an API key: never the secret, only its digest and validity, the
    rules it may use (`policies`, empty: all), its models and its budget."""

    id: str
    name: str
    key_hash: str
    expires_at: datetime | None
    allowed_tools: tuple[str, ...] | None = None  # MCP tools (names and globs); None: all
    policies: frozenset[str] = frozenset()
    models: ModelPatterns = ALL_MODELS
    budget: Budget | None = None

    def is_valid(self, now: datetime | None = None) -> bool:
        return self.expires_at is None or self.expires_at > (now or timezone.now())

    def may_use(self, rule_id: str) -> bool:
        return not self.policies or rule_id in self.policies


def api_key_list(*, gateway_id: str) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(gateway_id=gateway_id)


def verified_keys_of_gateway(*, gateway_id: str) -> dict[str, VerifiedKey]:
    """Digest → key, for the gateway's compiled snapshot."""
    return {key.key_hash: verified_key(key) for key in ApiKey.objects.filter(gateway_id=gateway_id)}


def verified_key(key: ApiKey) -> VerifiedKey:
    return VerifiedKey(
        str(key.id),
        key.name,
        key.key_hash,
        key.expires_at,
        policies=frozenset(str(rule_id) for rule_id in key.policies or ()),
        models=compile_model_patterns(key.allowed_models or ()),
        budget=Budget.of(f"key:{key.id}", key.max_budget_usd, key.budget_duration),
        allowed_tools=None if key.allowed_tools is None else tuple(key.allowed_tools),
    )


def api_key_verify(*, keys: Mapping[str, VerifiedKey], presented: str) -> VerifiedKey | None:
    """The key matching the presented secret, if it exists and has not expired."""
    digest = hash_secret(presented)
    key = keys.get(digest)
    if key is None or not digests_match(key.key_hash, digest) or not key.is_valid():
        return None
    return key


def admin_token_verify(*, presented: str) -> AdminToken | None:
    """The presented admin token, if it exists, has not expired and its user is active staff."""
    digest = hash_secret(presented)
    token = AdminToken.objects.select_related("user").filter(token_hash=digest).first()
    if token is None or not digests_match(token.token_hash, digest) or token.is_expired():
        return None
    return token if token.user.is_active and token.user.is_staff else None


def admin_token_user(*, presented: str):
    """The active staff user owning the presented, unexpired admin token, or None."""
    token = admin_token_verify(presented=presented)
    return token.user if token else None


def admin_token_list() -> QuerySet[AdminToken]:
    return AdminToken.objects.select_related("user")


def admin_token_find(*, reference: str) -> AdminToken:
    """The one token whose id or display prefix is `reference`.

    AdminToken.DoesNotExist when none matches, MultipleObjectsReturned when a prefix is shared."""
    tokens = admin_token_list()
    try:
        return tokens.get(pk=uuid.UUID(reference))
    except ValueError:
        return tokens.get(prefix=reference)
