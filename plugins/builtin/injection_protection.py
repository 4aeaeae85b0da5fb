"""injection_protection: SQL, NoSQL, command, path, LDAP, XML, SSRF, file, template, XPath,
header (CRLF) and XSS injections in headers, path and query, and body; block or log."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import serializers

from gateway_project.serializers import JSONBooleanField, StrictSerializer
from plugins.base import PluginSettingsSerializer
from plugins.detection import injection_rules
from plugins.detection.detector import BLOCK, LOG_ONLY, DetectorConfig, PatternDetector
from plugins.detection.engine import Rule
from plugins.detection.fields import LOCATION_CHOICES, MAX_PATTERNS, PatternField, locations_field

ALL_TYPES = "all"


@dataclass(frozen=True, kw_only=True)
class PredefinedInjection:
    type: str
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class CustomInjection:
    name: str
    pattern: str
    content_to_check: str = "all"


@dataclass(frozen=True, kw_only=True)
class InjectionProtectionConfig(DetectorConfig):
    predefined_injections: tuple[PredefinedInjection, ...] = ()  # empty: every type
    custom_injections: tuple[CustomInjection, ...] = ()
    error_message: str = "Potential security threat detected"


class PredefinedInjectionSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=[*injection_rules.TYPES, ALL_TYPES])
    enabled = JSONBooleanField(default=PredefinedInjection.enabled)


class CustomInjectionSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    pattern = PatternField(max_length=2000)
    content_to_check = serializers.ChoiceField(
        choices=LOCATION_CHOICES, default=CustomInjection.content_to_check
    )


class InjectionProtectionSettingsSerializer(PluginSettingsSerializer):
    predefined_injections = PredefinedInjectionSerializer(
        many=True,
        required=False,
        default=list,
        help_text="Injection types to detect; an empty list means all of them.",
    )
    custom_injections = CustomInjectionSerializer(
        many=True, required=False, default=list, max_length=MAX_PATTERNS
    )
    content_to_check = locations_field()
    action = serializers.ChoiceField(
        choices=[BLOCK, LOG_ONLY],
        default=InjectionProtectionConfig.action,
        help_text="block: answer status_code; log_only: forward and log the verdict.",
    )
    status_code = serializers.IntegerField(
        min_value=100, max_value=599, default=InjectionProtectionConfig.status_code
    )
    error_message = serializers.CharField(
        max_length=1000, default=InjectionProtectionConfig.error_message
    )


def enabled_types(predefined: tuple[PredefinedInjection, ...]) -> tuple[str, ...]:
    """The types to detect: all when the list is empty or enables `all`."""
    if not predefined:
        return injection_rules.TYPES
    enabled = {item.type for item in predefined if item.enabled}
    if ALL_TYPES in enabled:
        return injection_rules.TYPES
    return tuple(kind for kind in injection_rules.TYPES if kind in enabled)


class InjectionProtectionPlugin(PatternDetector):
    name = "injection_protection"
    label = "Injection Protection"
    description = (
        "Detects SQL, NoSQL, command, path, LDAP, XML, SSRF, file, template, XPath, header and "
        "XSS injections in headers, path, query and body (decoded and normalised); blocks or logs."
    )
    category = "content_security"
    settings_serializer = InjectionProtectionSettingsSerializer
    Config = InjectionProtectionConfig
    config: InjectionProtectionConfig

    def builtin_rules(self) -> tuple[Rule, ...]:
        types = frozenset(enabled_types(self.config.predefined_injections))
        return tuple(rule for rule in injection_rules.RULES if rule.kind in types)

    def custom_rules(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(
            (item.name, item.pattern, item.content_to_check)
            for item in self.config.custom_injections
        )
