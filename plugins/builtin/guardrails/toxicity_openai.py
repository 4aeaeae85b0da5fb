"""toxicity_openai: OpenAI's moderation endpoint (`POST /v1/moderations`) on prompts and
answers; a category scored at or over its threshold is a 403."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from gateway_project.fields import BaseURLField, HeaderValueField
from gateway_project.upstream_deny import refuse_denied_address
from plugins.builtin.guardrails.base import (
    ActionsSerializer,
    GuardrailConfig,
    GuardrailSettingsSerializer,
    RemoteGuardrail,
    Verdict,
)
from plugins.builtin.guardrails.client import GuardrailUnavailable, call_json
from plugins.configs import empty_mapping
from plugins.sdk.context import RequestContext

DEFAULT_BASE_URL = "https://api.openai.com"
DEFAULT_THRESHOLD = 0.5
# The categories of omni-moderation (text-moderation models report a subset).
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


@dataclass(frozen=True, kw_only=True)
class ToxicityOpenAIConfig(GuardrailConfig):
    openai_key: str
    base_url: str = DEFAULT_BASE_URL
    model: str = "omni-moderation-latest"
    categories: tuple[str, ...] = ()  # those in thresholds, else OpenAI's flags
    thresholds: Mapping[str, float] = field(default_factory=empty_mapping)


class ToxicityOpenAISettingsSerializer(GuardrailSettingsSerializer):
    openai_key = HeaderValueField(max_length=4000)
    base_url = BaseURLField(
        default=ToxicityOpenAIConfig.base_url, validators=[refuse_denied_address]
    )
    model = serializers.CharField(default=ToxicityOpenAIConfig.model, max_length=200)
    categories = serializers.ListField(
        child=serializers.ChoiceField(choices=CATEGORIES),
        required=False,
        help_text="Categories checked (default: those in thresholds, else OpenAI's flags).",
    )
    thresholds = serializers.DictField(
        child=serializers.FloatField(min_value=0.0, max_value=1.0),
        required=False,
        help_text="Category → score at or over which it is a hit (default 0.5).",
    )
    actions = ActionsSerializer(required=False)

    def validate_thresholds(self, thresholds: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(thresholds) - set(CATEGORIES))
        if unknown:
            raise serializers.ValidationError(
                {name: [f"Unknown category; known: {', '.join(CATEGORIES)}."] for name in unknown}
            )
        return thresholds


class ToxicityOpenAIPlugin(RemoteGuardrail):
    name = "toxicity_openai"
    label = "Toxicity (OpenAI moderation)"
    description = "Checks prompts and answers with OpenAI's moderation endpoint."
    settings_serializer = ToxicityOpenAISettingsSerializer
    Config = ToxicityOpenAIConfig
    config: ToxicityOpenAIConfig
    secret_settings = ("openai_key",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.url = config.base_url.rstrip("/") + "/v1/moderations"
        self.headers = {"Authorization": f"Bearer {config.openai_key}"}
        self.model: str = config.model
        self.thresholds: Mapping[str, float] = config.thresholds
        self.categories = config.categories or tuple(self.thresholds)
        self.message: str = config.actions.message or ""

    def has_images(self, request: RequestContext) -> bool:
        return bool(image_urls(request.json_body()))

    def check(self, texts: Sequence[str], *, source: str, request: RequestContext) -> Verdict:
        images = image_urls(request.json_body()) if source == "INPUT" else []
        answer = call_json(
            "POST",
            self.url,
            timeout=self.timeout,
            headers=self.headers,
            payload={"model": self.model, "input": moderation_input(texts, images)},
        )
        hits = self.hits(results_of(answer))
        if not hits:
            return Verdict()
        listed = ", ".join(f"{name} ({score:.2f})" for name, score in hits)
        message = f"{self.message} content flagged for categories: [{listed}]".strip()
        return Verdict(flagged=True, message=message, kinds=tuple(name for name, _ in hits))

    def hits(self, results: list[dict[str, Any]]) -> list[tuple[str, float]]:
        """(category, highest score) of each category hit in any result."""
        scores: dict[str, float] = {}
        flagged: set[str] = set()
        for result in results:
            for name, score in (result.get("category_scores") or {}).items():
                if isinstance(score, int | float):
                    scores[name] = max(scores.get(name, 0.0), float(score))
            categories = result.get("categories") or {}
            flagged |= {name for name, hit in categories.items() if hit is True}
        if not self.categories:  # nothing configured: OpenAI's own flags
            return [(name, scores.get(name, 1.0)) for name in sorted(flagged)]
        return [
            (name, scores[name])
            for name in self.categories
            if scores.get(name, 0.0) >= self.thresholds.get(name, DEFAULT_THRESHOLD)
        ]


def moderation_input(texts: Sequence[str], images: Sequence[str]) -> Any:
    """Strings, or (with images) the multimodal parts omni-moderation takes."""
    if not images:
        return list(texts)
    parts: list[dict[str, Any]] = [{"type": "text", "text": text} for text in texts]
    return parts + [{"type": "image_url", "image_url": {"url": url}} for url in images]


def image_urls(body: Any) -> list[str]:
    """URLs of `image_url` parts of an OpenAI chat request."""
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        return []
    urls = []
    for message in body["messages"]:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else ():
            image = part.get("image_url") if isinstance(part, dict) else None
            url = image.get("url") if isinstance(image, dict) else image
            if part.get("type") == "image_url" and isinstance(url, str):
                urls.append(url)
    return urls


def results_of(answer: Any) -> list[dict[str, Any]]:
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise GuardrailUnavailable("answered without moderation results")
    return results
