"""A plugin configured on a gateway (`required_plugins`) or on a rule (`plugin_chain`)."""

from __future__ import annotations

import uuid

from django.db import models

from plugins.stages import STAGES
from plugins.validation import validate_plugin_config_model

__all__ = ["STAGES", "PluginConfig"]  # STAGES: kept importable from here for older callers


class PluginConfig(models.Model):
    class Stage(models.TextChoices):
        PRE_REQUEST = "pre_request"
        POST_REQUEST = "post_request"
        PRE_RESPONSE = "pre_response"
        POST_RESPONSE = "post_response"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    gateway = models.ForeignKey(
        "gateways.Gateway",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="required_plugins",
    )
    rule = models.ForeignKey(
        "gateways.Rule",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="plugin_chain",
    )
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=True)
    stage = models.CharField(max_length=16, choices=Stage.choices)
    priority = models.IntegerField(default=0)
    parallel = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["position", "priority"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(gateway__isnull=False, rule__isnull=True)
                    | models.Q(gateway__isnull=True, rule__isnull=False)
                ),
                name="plugin_config_has_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.stage}, priority {self.priority})"

    @property
    def level(self) -> str:
        return "gateway" if self.gateway_id else "rule"

    def clean(self) -> None:
        validate_plugin_config_model(self)
