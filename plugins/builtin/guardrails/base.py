"""The common base of remote guardrails: which text is checked, the on_error policy, answers
checked before they are sent, and streamed answers checked as they pass."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rest_framework import serializers

from gateway_project.durations import parse_duration_ms
from gateway_project.serializers import StrictSerializer
from plugins.base import Plugin, PluginSettingsSerializer
from plugins.builtin.guardrails.client import GuardrailUnavailable
from plugins.builtin.guardrails.texts import body_texts, rewritten_body, split_path
from plugins.configs import Config
from plugins.sdk.context import Finding, PluginRejection, RequestContext, ResponseContext
from plugins.sdk.llm_content import MessageText
from plugins.sdk.streams.text_filter import StreamStop, TextFilter

logger = logging.getLogger(__name__)

UNAVAILABLE = "guardrail unavailable"
STREAM_KIND = "guardrail"  # the `type` of the error event that cuts a stream
MAX_TIMEOUT = 60.0


class TimeoutField(serializers.Field):
    """Seconds as a number, or a duration such as `5s` or `500ms`; stored as seconds."""

    json_schema = {"type": ["number", "string"]}  # see plugins.schema
    invalid_message = "Give seconds or a duration such as '5s'."

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool) or not isinstance(data, int | float | str):
            raise serializers.ValidationError(self.invalid_message)
        try:
            seconds = float(data) if not isinstance(data, str) else parse_duration_ms(data) / 1000
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        if not 0.001 <= seconds <= MAX_TIMEOUT:
            raise serializers.ValidationError(f"Must be between 1ms and {MAX_TIMEOUT:g}s.")
        return seconds

    def to_representation(self, value: Any) -> Any:
        return value


class DotPathField(serializers.CharField):
    """A dot path into a JSON document, such as `messages.0.content` or `result.flagged`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        if not all(text.split(".")):
            raise serializers.ValidationError(f"{text!r} is not a dot path such as 'a.0.b'.")
        return text


@dataclass(frozen=True, kw_only=True)
class GuardrailActions:
    type: str = "block"
    message: str | None = None  # the guardrail's own message


@dataclass(frozen=True, kw_only=True)
class GuardrailConfig(Config):
    timeout: float = 5.0
    on_error: str = "block"
    fields: tuple[str, ...] = ()  # the whole body
    check_every_chars: int = 500
    actions: GuardrailActions = GuardrailActions()  # (external_api offers none: the default)


class ActionsSerializer(StrictSerializer):
    """What a hit does: `block` answers with the error, `log_only` records a finding."""

    type = serializers.ChoiceField(choices=["block", "log_only"], default=GuardrailActions.type)
    message = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class GuardrailSettingsSerializer(PluginSettingsSerializer):
    timeout = TimeoutField(
        default=GuardrailConfig.timeout, help_text="Connect and read timeout of a call."
    )
    on_error = serializers.ChoiceField(
        choices=["block", "allow"],
        default=GuardrailConfig.on_error,
        help_text="Service unreachable, timed out or erring: block (502) or allow (logged).",
    )
    fields = serializers.ListField(
        child=DotPathField(),
        required=False,
        max_length=50,
        help_text="Non-LLM bodies: the JSON fields checked (default: the whole body).",
    )
    check_every_chars = serializers.IntegerField(
        default=GuardrailConfig.check_every_chars,
        min_value=1,
        max_value=1_000_000,
        help_text="Streamed answers: check the text so far each time it grew by this much.",
    )


@dataclass(frozen=True)
class Verdict:
    """A service's answer: flagged (with the error to answer and the kinds for findings), or
    `replacements` (one text per text checked) to forward instead, or neither (clean)."""

    flagged: bool = False
    message: str = ""
    status: int = 403
    kinds: tuple[str, ...] = ()
    replacements: tuple[str, ...] | None = None


CLEAN = Verdict()


class RemoteGuardrail(Plugin):
    """A guardrail that asks a remote service for a verdict (`check`), on the prompt in
    pre_request and on the answer in post_response (buffered: before it is sent; streamed:
    as it passes, see GuardrailStreamFilter)."""

    category = "content_security"
    allowed_stages = ("pre_request", "post_response")
    settings_serializer: ClassVar[type[serializers.Serializer]] = GuardrailSettingsSerializer
    Config: ClassVar[type[GuardrailConfig]] = GuardrailConfig
    config: GuardrailConfig
    sends_content_out = True
    stream_error_message = UNAVAILABLE

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.timeout: float = config.timeout
        self.on_error: str = config.on_error
        self.fields = tuple(split_path(path) for path in config.fields)
        self.check_every_chars: int = config.check_every_chars
        self.log_only: bool = config.actions.type == "log_only"

    def check(self, texts: Sequence[str], *, source: str, request: RequestContext) -> Verdict:
        """The service's verdict on `texts` (`source`: "INPUT" or "OUTPUT"); raises
        GuardrailUnavailable when it cannot give one."""
        raise NotImplementedError(".check() must be overridden")

    def has_images(self, request: RequestContext) -> bool:
        """Whether the request holds images the service checks (a prompt of images only is
        checked too)."""
        return False

    def masked_stream_message(self) -> str:
        """The error of a stream whose sent text the service would have masked."""
        return "content blocked by guardrail"

    def request_texts(self, request: RequestContext) -> list[MessageText]:
        content_type = request.headers.get("Content-Type", "")
        return body_texts(
            request.body, request.json_body(), self.fields, content_type, answer=False
        )

    # The hooks

    def pre_request(self, request: RequestContext) -> None:
        items = self.request_texts(request)
        if not items and not self.has_images(request):
            return
        verdict = self._body_verdict(request, items, "INPUT")
        if verdict is not None and verdict.replacements is not None and not self.log_only:
            request.replace_body(rewritten_body(request.json_body(), items, verdict.replacements))

    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        if response.streamed or not response.body:
            return  # a stream was checked as it passed (stream_filter)
        document = _json(response.body)
        content_type = response.headers.get("Content-Type", "")
        items = body_texts(response.body, document, self.fields, content_type, answer=True)
        if not items:
            return
        verdict = self._body_verdict(request, items, "OUTPUT")
        if verdict is not None and verdict.replacements is not None and not self.log_only:
            response.body = rewritten_body(document, items, verdict.replacements)

    def stream_filter(
        self, request: RequestContext, response: ResponseContext
    ) -> TextFilter | None:
        return GuardrailStreamFilter(self, request) if self.stage == "post_response" else None

    # Verdicts

    def _body_verdict(
        self, request: RequestContext, items: list[MessageText], source: str
    ) -> Verdict | None:
        """A buffered body's verdict; a hit or (on_error block) a failure is a rejection."""
        try:
            verdict = self.verdict(request, [item.text for item in items], source)
        except GuardrailUnavailable as exc:
            raise PluginRejection(502, UNAVAILABLE) from exc
        if verdict is not None and verdict.flagged and not self.log_only:
            raise PluginRejection(verdict.status, verdict.message)
        return verdict

    def verdict(self, request: RequestContext, texts: list[str], source: str) -> Verdict | None:
        """`check`'s verdict, recorded in `request.findings`; None when the service failed and
        on_error is allow (logged). A failure with on_error block is raised."""
        try:
            verdict = self.check(texts, source=source, request=request)
        except GuardrailUnavailable as exc:
            request.findings.append(Finding(self.name, "unavailable", "error"))
            logger.warning(
                "guardrail %s (%s) unavailable: %s; on_error=%s (request %s)",
                self.name,
                self.instance_id,
                exc,
                self.on_error,
                request.request_id,
            )
            if self.on_error == "allow":
                return None
            raise
        if verdict.flagged:
            action = "logged" if self.log_only else "blocked"
            for kind in verdict.kinds or ("flagged",):
                request.findings.append(Finding(self.name, kind, action))
        elif verdict.replacements is not None:
            action = "logged" if self.log_only else "masked"
            for kind in verdict.kinds or ("masked",):
                request.findings.append(Finding(self.name, kind, action))
        return verdict


class GuardrailStreamFilter(TextFilter):
    """One text of a streamed answer: passed on at once (what was sent stays sent), checked
    whole each time it grew by `check_every_chars` and at its end; a hit stops the stream
    before the delta that completed it is sent."""

    def __init__(self, plugin: RemoteGuardrail, request: RequestContext) -> None:
        self.plugin = plugin
        self.request = request
        self.parts: list[str] = []
        self.size = 0
        self.checked = 0

    def feed(self, text: str) -> str:
        if text:
            self.parts.append(text)
            self.size += len(text)
            if self.size - self.checked >= self.plugin.check_every_chars:
                self._check()
        return text

    def finish(self) -> str:
        if self.size > self.checked:
            self._check()
        return ""

    def _check(self) -> None:
        self.checked = self.size
        text = "".join(self.parts)
        self.parts = [text]
        if not text.strip():
            return
        try:
            verdict = self.plugin.verdict(self.request, [text], "OUTPUT")
        except GuardrailUnavailable as exc:
            raise StreamStop(UNAVAILABLE, STREAM_KIND) from exc
        if verdict is None or self.plugin.log_only:
            return
        if verdict.flagged:
            raise StreamStop(verdict.message, STREAM_KIND)
        if verdict.replacements is not None:  # sent text cannot be masked any more
            raise StreamStop(self.plugin.masked_stream_message(), STREAM_KIND)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
