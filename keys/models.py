"""API keys of a gateway (with their rule and model scopes and budgets), their spend, and admin
tokens: only SHA-256 digests and display prefixes are stored."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from gateways.governance import validate_budget_duration, validate_model_patterns


class ApiKey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    gateway = models.ForeignKey(
        "gateways.Gateway", on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=16, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    allowed_tools = models.JSONField(null=True, blank=True)  # MCP tools; None: every tool
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    policies = models.JSONField(default=list, blank=True)  # rule ids; empty: every rule
    allowed_models = models.JSONField(
        default=list, blank=True, validators=[validate_model_patterns]
    )  # names and * globs; empty: all
    max_budget_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    budget_duration = models.CharField(  # "": never resets
        max_length=16, blank=True, default="", validators=[validate_budget_duration]
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()


class Spend(models.Model):
    """What LLM calls cost on one day (UTC), per gateway, key, model and provider, as last
    flushed from the Redis counters (keys.spend); `cost_nanos` in billionths of a dollar."""

    day = models.DateField()
    gateway_id = models.UUIDField()
    api_key_id = models.CharField(max_length=36, blank=True, default="")  # "": public rules
    model = models.CharField(max_length=200, blank=True, default="")
    provider = models.CharField(max_length=64, blank=True, default="")
    requests = models.BigIntegerField(default=0)
    cost_nanos = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "gateway_id", "api_key_id", "model", "provider"],
                name="spend_one_row_per_day_and_scope",
            )
        ]
        indexes = [models.Index(fields=["gateway_id", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.model or '-'}: {self.cost_usd} USD"

    @property
    def cost_usd(self) -> float:
        return self.cost_nanos / 1e9


class AdminToken(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="admin_tokens"
    )
    prefix = models.CharField(max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never expires
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)  # to the minute

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} ({self.prefix}…)"

    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()
