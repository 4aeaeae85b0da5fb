"""prompt_moderation: keywords (Levenshtein similarity per word) and regexes (RE2) in the
messages of an LLM request, or in the whole body of other requests; 403 or log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from gateway_project.serializers import StrictSerializer
from plugins.base import Plugin, PluginSettingsSerializer
from plugins.configs import Config
from plugins.detection.detector import BLOCK, LOG_ONLY
from plugins.detection.engine import Rule, compiled
from plugins.detection.fields import MAX_PATTERNS, PatternField
from plugins.detection.keywords import KeywordMatcher, SplitWords, texts_of
from plugins.detection.report import BLOCKED, LOGGED, report
from plugins.sdk.context import PluginRejection, RequestContext
from plugins.sdk.llm_content import call_texts, is_llm_request, message_texts

STATUS = 403
ROLES = ("user", "system", "developer", "assistant", "tool", "function")


@dataclass(frozen=True, kw_only=True)
class ModerationActions:
    type: str
    message: str = "Content blocked"


@dataclass(frozen=True, kw_only=True)
class PromptModerationConfig(Config):
    keywords: tuple[str, ...] = ()
    regex: tuple[str, ...] = ()
    similarity_threshold: float = 0.8
    actions: ModerationActions
    roles: tuple[str, ...] = ROLES


class ModerationActionsSerializer(StrictSerializer):
    type = serializers.ChoiceField(
        choices=[BLOCK, LOG_ONLY], help_text="block: answer 403; log_only: forward and log."
    )
    message = serializers.CharField(max_length=1000, default=ModerationActions.message)


class PromptModerationSettingsSerializer(PluginSettingsSerializer):
    keywords = serializers.ListField(
        child=serializers.CharField(max_length=200), default=list, max_length=1000
    )
    regex = serializers.ListField(child=PatternField(), default=list, max_length=MAX_PATTERNS)
    similarity_threshold = serializers.FloatField(
        min_value=0.5,
        max_value=1.0,
        default=PromptModerationConfig.similarity_threshold,
        help_text="Levenshtein similarity (0.5-1) from which a word matches a keyword.",
    )
    actions = ModerationActionsSerializer()
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=list(ROLES)),
        default=lambda: list(PromptModerationConfig.roles),
        min_length=1,
        help_text="Message roles checked in LLM requests (all by default: an instruction in a "
        "system, assistant or tool message, or in a tool call's arguments, reaches the model "
        "as well).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not (attrs["keywords"] or attrs["regex"]):
            message = ["Give at least one keyword or regex."]
            raise serializers.ValidationError({"keywords": message, "regex": message})
        return attrs


class PromptModerationPlugin(Plugin):
    name = "prompt_moderation"
    label = "Prompt Moderation"
    description = (
        "Refuses (403) prompts with a keyword (Levenshtein similarity per word) or matching a "
        "regex; LLM requests are checked on their message texts of the configured roles."
    )
    category = "content_security"
    allowed_stages = ("pre_request",)
    fixed_stages = ("pre_request",)
    settings_serializer = PromptModerationSettingsSerializer
    Config = PromptModerationConfig
    config: PromptModerationConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.keywords = KeywordMatcher(config.keywords, config.similarity_threshold)
        self.regexes = compiled(
            tuple(
                Rule("regex", f"regex[{index}]", pattern)
                for index, pattern in enumerate(config.regex)
            )
        )
        self.split_words = SplitWords(config.regex)
        self.roles: frozenset[str] = frozenset(config.roles)
        self.block: bool = config.actions.type == BLOCK
        self.message: str = config.actions.message

    def texts(self, request: RequestContext) -> list[str]:
        body = request.json_body()
        if is_llm_request(body):
            found = [*message_texts(body, self.roles), *call_texts(body, self.roles)]
            return [item.text for item in found]
        return [request.body.decode("utf-8", errors="replace")] if request.body else []

    def pre_request(self, request: RequestContext) -> None:
        for text in self.texts(request):
            rule = self.find(text)
            if rule is None:
                continue
            if self.block:
                report(request, self.name, rule, "body", BLOCKED)
                raise PluginRejection(STATUS, self.message)
            report(request, self.name, rule, "body", LOGGED)
            return

    def regex_readings(self, text: str) -> list[str]:
        """The readings keywords are matched on, and the text with the words the regexes
        spell out joined where blanks or signs split them."""
        readings = texts_of(text)
        joined = self.split_words.rejoined(readings[0])
        return readings if joined is None else [*readings, joined]

    def find(self, text: str) -> Rule | None:
        for reading in self.regex_readings(text) if self.regexes else ():
            rule = self.regexes.first(reading)
            if rule is not None:
                return rule
        index = self.keywords.first(text)
        return None if index is None else Rule("keyword", f"keywords[{index}]", "")
