"""Gateway, Upstream, Service and Rule: the configuration the proxy compiles into snapshots."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from gateways.governance import validate_budget_duration, validate_model_patterns

DNS_LABEL = RegexValidator(
    r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$",
    "Enter a valid DNS label: lower-case letters, digits and hyphens, 1-63 characters, "
    "not starting or ending with a hyphen.",
)
PORT_VALIDATORS = [MinValueValidator(1), MaxValueValidator(65535)]


def new_epoch() -> str:
    return uuid.uuid4().hex


class TimestampedModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Gateway(TimestampedModel):
    class Status(models.TextChoices):
        ACTIVE = "active"
        INACTIVE = "inactive"

    name = models.CharField(max_length=200)
    subdomain = models.CharField(max_length=63, unique=True, validators=[DNS_LABEL])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    security_config = models.JSONField(default=dict, blank=True)
    telemetry = models.JSONField(default=dict, blank=True)  # gateways.telemetry validates it
    session_config = models.JSONField(default=dict, blank=True)  # a rule's own one wins
    allowed_models = models.JSONField(
        default=list, blank=True, validators=[validate_model_patterns]
    )  # names and * globs; empty: all
    allowed_tools = models.JSONField(null=True, blank=True)  # MCP tools; None: every tool
    max_budget_usd = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    budget_duration = models.CharField(  # "": never resets
        max_length=16, blank=True, default="", validators=[validate_budget_duration]
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.subdomain})"


class Upstream(TimestampedModel):
    class Algorithm(models.TextChoices):
        ROUND_ROBIN = "round-robin"
        WEIGHTED_ROUND_ROBIN = "weighted-round-robin"
        LEAST_CONN = "least-conn"
        RANDOM = "random"
        LEAST_LATENCY = "least-latency"

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="upstreams")
    name = models.CharField(max_length=200)
    algorithm = models.CharField(
        max_length=32, choices=Algorithm.choices, default=Algorithm.ROUND_ROBIN
    )
    targets = models.JSONField(default=list)
    health_checks = models.JSONField(default=dict, blank=True)
    websocket_config = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    proxy_config = models.JSONField(default=dict, blank=True)
    client_tls = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["gateway", "name"])]

    def __str__(self) -> str:
        return self.name


class Service(TimestampedModel):
    class Type(models.TextChoices):
        UPSTREAM = "upstream"
        ENDPOINT = "endpoint"

    class Protocol(models.TextChoices):
        HTTP = "http"
        HTTPS = "https"

    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=16, choices=Type.choices)
    description = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    upstream = models.ForeignKey(
        Upstream, on_delete=models.RESTRICT, null=True, blank=True, related_name="services"
    )
    host = models.CharField(max_length=255, blank=True, default="")
    port = models.PositiveIntegerField(null=True, blank=True, validators=PORT_VALIDATORS)
    protocol = models.CharField(
        max_length=8, choices=Protocol.choices, default=Protocol.HTTP, blank=True
    )
    path = models.CharField(max_length=2000, blank=True, default="")
    headers = models.JSONField(default=dict, blank=True)
    credentials = models.JSONField(default=dict, blank=True)
    connect_timeout = models.FloatField(null=True, blank=True)
    read_timeout = models.FloatField(null=True, blank=True)
    retries = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(10)])

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["gateway", "name"], name="unique_service_name")
        ]

    def __str__(self) -> str:
        return self.name


class Rule(TimestampedModel):
    gateway = models.ForeignKey(Gateway, on_delete=models.CASCADE, related_name="rules")
    service = models.ForeignKey(Service, on_delete=models.RESTRICT, related_name="rules")
    name = models.CharField(max_length=200, blank=True, default="")
    path = models.CharField(max_length=2000)
    methods = models.JSONField(default=list)
    headers = models.JSONField(default=dict, blank=True)
    strip_path = models.BooleanField(default=False)
    preserve_host = models.BooleanField(default=False)
    retry_attempts = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(10)])
    session_config = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    public = models.BooleanField(default=False)
    allowed_models = models.JSONField(
        default=list, blank=True, validators=[validate_model_patterns]
    )  # names and * globs; empty: all
    allowed_tools = models.JSONField(null=True, blank=True)  # MCP tools; None: every tool

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.name or self.path


class ConfigVersion(models.Model):
    """The authoritative change counter of the configuration, one row per scope.

    Scope `counter` is bumped once per transaction that changes any config; each touched scope
    (a gateway's id, or `directory` for the set of subdomains) then holds that counter value.
    `epoch` (on the counter row) names this database's lineage: a fresh database is a new one.
    """

    scope = models.CharField(max_length=64, primary_key=True)
    version = models.BigIntegerField(default=0)
    epoch = models.CharField(max_length=32, default=new_epoch, editable=False)

    def __str__(self) -> str:
        return f"{self.scope}@{self.version}"
