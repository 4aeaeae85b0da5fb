"""toxicity_azure: Azure AI Content Safety (`text:analyze`, `image:analyze`) on prompts and
answers; a category at or over its severity threshold is a 403."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from gateway_project.fields import BaseURLField, HeaderValueField
from gateway_project.serializers import StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address
from plugins.builtin.guardrails.base import (
    ActionsSerializer,
    DotPathField,
    GuardrailConfig,
    GuardrailSettingsSerializer,
    RemoteGuardrail,
    Verdict,
)
from plugins.builtin.guardrails.client import GuardrailUnavailable, call_json
from plugins.builtin.guardrails.texts import MISSING, field_texts, split_path, value_at
from plugins.sdk.context import RequestContext
from plugins.sdk.llm_content import MessageText

CATEGORIES = ("Hate", "Violence", "SelfHarm", "Sexual")
LEVELS = {"FourSeverityLevels": (0, 2, 4, 6), "EightSeverityLevels": tuple(range(8))}
MAX_TEXT = 10_000  # characters per text:analyze call
DEFAULT_SEVERITY = 2


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    text: str
    image: str | None = None


@dataclass(frozen=True, kw_only=True)
class ContentType:
    type: str
    path: str


@dataclass(frozen=True, kw_only=True)
class ToxicityAzureConfig(GuardrailConfig):
    api_key: str
    endpoints: Endpoints
    output_type: str = "FourSeverityLevels"
    category_severity: Mapping[str, int] | None = None  # all four categories at 2
    content_types: tuple[ContentType, ...] = ()


class EndpointsSerializer(StrictSerializer):
    text = BaseURLField(validators=[refuse_denied_address], help_text="text:analyze URL.")
    image = BaseURLField(
        required=False, validators=[refuse_denied_address], help_text="image:analyze URL."
    )


class ContentTypeSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["text", "image"])
    path = DotPathField(help_text="Dot path into the JSON body.")


class ToxicityAzureSettingsSerializer(GuardrailSettingsSerializer):
    api_key = HeaderValueField(max_length=4000)
    endpoints = EndpointsSerializer()
    output_type = serializers.ChoiceField(
        choices=list(LEVELS), default=ToxicityAzureConfig.output_type
    )
    category_severity = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=7),
        required=False,
        help_text="Category → severity at or over which it is a hit (default: all four at 2).",
    )
    content_types = serializers.ListField(
        child=ContentTypeSerializer(), required=False, max_length=50
    )
    actions = ActionsSerializer(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        levels = LEVELS[attrs["output_type"]]
        errors = {
            name: [f"Unknown category; known: {', '.join(CATEGORIES)}."]
            if name not in CATEGORIES
            else [f"Must be one of {', '.join(map(str, levels))} for {attrs['output_type']}."]
            for name, level in (attrs.get("category_severity") or {}).items()
            if name not in CATEGORIES or level not in levels
        }
        if errors:
            raise serializers.ValidationError({"category_severity": errors})
        wants_images = any(c["type"] == "image" for c in attrs.get("content_types", ()))
        if wants_images and not attrs["endpoints"].get("image"):
            raise serializers.ValidationError(
                {"endpoints": {"image": ["Required when content_types name an image."]}}
            )
        return attrs


class ToxicityAzurePlugin(RemoteGuardrail):
    name = "toxicity_azure"
    label = "Toxicity (Azure AI Content Safety)"
    description = "Checks prompts and answers with Azure AI Content Safety."
    settings_serializer = ToxicityAzureSettingsSerializer
    Config = ToxicityAzureConfig
    config: ToxicityAzureConfig
    secret_settings = ("api_key",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.headers = {"Ocp-Apim-Subscription-Key": config.api_key}
        self.endpoints: Endpoints = config.endpoints
        self.output_type: str = config.output_type
        self.thresholds: Mapping[str, int] = config.category_severity or dict.fromkeys(
            CATEGORIES, DEFAULT_SEVERITY
        )
        self.paths = {
            kind: [split_path(c.path) for c in config.content_types if c.type == kind]
            for kind in ("text", "image")
        }
        self.message: str = config.actions.message or ""

    def request_texts(self, request: RequestContext) -> list[MessageText]:
        if self.paths["text"]:
            texts = field_texts(request.json_body(), self.paths["text"])
            return [item for item in texts if item.text.strip()]
        return super().request_texts(request)

    def check(self, texts: Sequence[str], *, source: str, request: RequestContext) -> Verdict:
        severities: dict[str, int] = {}
        for chunk in chunks("\n".join(texts)):
            payload = {
                "text": chunk,
                "categories": list(self.thresholds),
                "outputType": self.output_type,
            }
            _merge(severities, self._analyze(self.endpoints.text, payload))
        if source == "INPUT":
            for image in self.images(request):
                _merge(severities, self._analyze(self.endpoints.image, {"image": image}))
        hits = [
            (name, severities[name], limit)
            for name, limit in self.thresholds.items()
            if severities.get(name, 0) >= limit
        ]
        if not hits:
            return Verdict()
        listed = ", ".join(f"{n} (severity: {s}, threshold: {t})" for n, s, t in hits)
        message = f"{self.message} Flagged categories: [{listed}]".strip()
        return Verdict(flagged=True, message=message, kinds=tuple(name for name, _, _ in hits))

    def has_images(self, request: RequestContext) -> bool:
        return bool(self.images(request))

    def images(self, request: RequestContext) -> list[dict[str, str]]:
        """The images at the `image` content paths: base64 (a data URL's payload) or a URL."""
        found = []
        for path in self.paths["image"]:
            value = value_at(request.json_body(), path)
            if value is MISSING or not isinstance(value, str) or not value:
                continue
            if value.startswith("data:"):
                found.append({"content": value.partition(",")[2]})
            elif value.startswith(("http://", "https://")):
                found.append({"blobUrl": value})
            else:
                found.append({"content": value})
        return found

    def _analyze(self, url: str, payload: dict[str, Any]) -> list[Any]:
        answer = call_json("POST", url, timeout=self.timeout, headers=self.headers, payload=payload)
        analysis = answer.get("categoriesAnalysis") if isinstance(answer, dict) else None
        if not isinstance(analysis, list):
            raise GuardrailUnavailable("answered without categoriesAnalysis")
        return analysis


def chunks(text: str) -> list[str]:
    """The text in pieces text:analyze accepts."""
    return [text[start : start + MAX_TEXT] for start in range(0, len(text), MAX_TEXT)]


def _merge(severities: dict[str, int], analysis: list[Any]) -> None:
    for item in analysis:
        if isinstance(item, dict) and isinstance(item.get("severity"), int):
            name = str(item.get("category"))
            severities[name] = max(severities.get(name, 0), item["severity"])
