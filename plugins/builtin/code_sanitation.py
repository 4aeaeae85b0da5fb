"""code_sanitation: code of nine languages (and operator patterns) in requests; block,
sanitise (matched fragments replaced, the request forwarded) or log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from gateway_project.serializers import JSONBooleanField, StrictSerializer
from plugins.base import PluginSettingsSerializer
from plugins.detection import code_rules
from plugins.detection.detector import (
    BLOCK,
    LOG_ONLY,
    SANITIZE,
    DetectorConfig,
    PatternDetector,
)
from plugins.detection.engine import Rule
from plugins.detection.fields import LOCATION_CHOICES, MAX_PATTERNS, PatternField, locations_field

ENFORCE = "enforce"  # TrustGate's later name for block


@dataclass(frozen=True, kw_only=True)
class Language:
    language: str
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class CustomPattern:
    name: str
    pattern: str
    description: str | None = None
    content_type: str = "all"


@dataclass(frozen=True, kw_only=True)
class CodeSanitationConfig(DetectorConfig):
    apply_all_languages: bool = False
    languages: tuple[Language, ...] = ()
    custom_patterns: tuple[CustomPattern, ...] = ()
    error_message: str = "Potential code injection detected"
    sanitize_char: str = "X"


class LanguageSerializer(StrictSerializer):
    language = serializers.ChoiceField(choices=list(code_rules.LANGUAGES))
    enabled = JSONBooleanField(default=Language.enabled)


class CustomPatternSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)
    pattern = PatternField(max_length=2000)
    description = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    content_type = serializers.ChoiceField(
        choices=LOCATION_CHOICES,
        default=CustomPattern.content_type,
        help_text="Where the pattern applies.",
    )


class CodeSanitationSettingsSerializer(PluginSettingsSerializer):
    apply_all_languages = JSONBooleanField(default=CodeSanitationConfig.apply_all_languages)
    languages = LanguageSerializer(many=True, required=False, default=list)
    custom_patterns = CustomPatternSerializer(
        many=True, required=False, default=list, max_length=MAX_PATTERNS
    )
    content_to_check = locations_field()
    action = serializers.ChoiceField(
        choices=[BLOCK, SANITIZE, LOG_ONLY, ENFORCE],
        default=CodeSanitationConfig.action,
        help_text="block (or enforce): answer status_code; sanitize: replace the matched "
        "fragments with sanitize_char and forward; log_only: forward and log the verdict.",
    )
    status_code = serializers.IntegerField(
        min_value=100, max_value=599, default=CodeSanitationConfig.status_code
    )
    error_message = serializers.CharField(
        max_length=1000, default=CodeSanitationConfig.error_message
    )
    sanitize_char = serializers.CharField(
        min_length=1,
        max_length=1,
        default=CodeSanitationConfig.sanitize_char,
        trim_whitespace=False,
    )

    def validate_action(self, value: str) -> str:
        return BLOCK if value == ENFORCE else value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (
            attrs["apply_all_languages"]
            or any(item["enabled"] for item in attrs["languages"])
            or attrs["custom_patterns"]
        ):
            raise serializers.ValidationError(
                {
                    "languages": [
                        "Enable a language, set apply_all_languages or give custom_patterns."
                    ]
                }
            )
        return attrs


class CodeSanitationPlugin(PatternDetector):
    name = "code_sanitation"
    label = "Code Sanitation"
    description = (
        "Detects code (JavaScript, Python, PHP, SQL, shell, Java, C#, Ruby, HTML) in requests; "
        "blocks, sanitises the matched fragments, or logs."
    )
    category = "application_security"
    settings_serializer = CodeSanitationSettingsSerializer
    Config = CodeSanitationConfig
    config: CodeSanitationConfig

    @classmethod
    def rewrites_request_with(cls, config: CodeSanitationConfig) -> bool:
        return config.action == SANITIZE

    def builtin_rules(self) -> tuple[Rule, ...]:
        config = self.config
        if config.apply_all_languages:
            return code_rules.RULES
        languages = {item.language for item in config.languages if item.enabled}
        return tuple(rule for rule in code_rules.RULES if rule.kind in languages)

    def custom_rules(self) -> tuple[tuple[str, str, str], ...]:
        return tuple(
            (item.name, item.pattern, item.content_type) for item in self.config.custom_patterns
        )

    def sanitize_char(self) -> str:
        return self.config.sanitize_char
