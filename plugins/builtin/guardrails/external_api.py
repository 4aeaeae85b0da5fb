"""external_api: a verdict service of the operator's own; fields of the body are mapped into
its request, conditions on its JSON answer stop the request (422)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from gateway_project.fields import BaseURLField, HeadersField
from gateway_project.serializers import JSONBooleanField, StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address
from plugins.builtin.guardrails.base import (
    DotPathField,
    GuardrailConfig,
    GuardrailSettingsSerializer,
    RemoteGuardrail,
    Verdict,
)
from plugins.builtin.guardrails.client import call_json
from plugins.builtin.guardrails.texts import MISSING, Path, split_path, value_at
from plugins.configs import empty_mapping
from plugins.sdk.context import Finding, RequestContext

OPERATORS = ("eq", "neq", "gt", "lt", "contains")
DEFAULT_MESSAGE = "request refused by the external validation"


@dataclass(frozen=True, kw_only=True)
class QueryParam:
    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class FieldMap:
    source: str
    destination: str


@dataclass(frozen=True, kw_only=True)
class Condition:
    field: str
    operator: str
    value: Any
    stop_flow: bool
    message: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExternalAPIConfig(GuardrailConfig):
    endpoint: str
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=empty_mapping)
    query_params: tuple[QueryParam, ...] = ()
    field_maps: tuple[FieldMap, ...] = ()
    conditions: tuple[Condition, ...] = ()


class QueryParamSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    value = serializers.CharField(max_length=4000, allow_blank=True)


class FieldMapSerializer(StrictSerializer):
    source = DotPathField(help_text="Dot path into the body (`input`: the text checked).")
    destination = DotPathField(help_text="Dot path into the service's JSON request.")


class AnyJSONField(serializers.JSONField):
    json_schema = {"type": ["string", "number", "boolean", "null", "array", "object"]}


class ConditionSerializer(StrictSerializer):
    field = DotPathField(help_text="Dot path into the service's JSON answer.")
    operator = serializers.ChoiceField(choices=OPERATORS)
    value = AnyJSONField(help_text="Compared with the answer's value at `field`.")
    stop_flow = JSONBooleanField(help_text="true: a match refuses (422); false: it is logged.")
    message = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class ExternalAPISettingsSerializer(GuardrailSettingsSerializer):
    endpoint = BaseURLField(validators=[refuse_denied_address])
    method = serializers.ChoiceField(
        choices=["POST", "PUT", "PATCH", "GET"], default=ExternalAPIConfig.method
    )
    headers = HeadersField(required=False, default=dict)
    query_params = serializers.ListField(
        child=QueryParamSerializer(), required=False, default=list, max_length=50
    )
    field_maps = serializers.ListField(
        child=FieldMapSerializer(), required=False, default=list, max_length=50
    )
    conditions = serializers.ListField(
        child=ConditionSerializer(), required=False, default=list, max_length=50
    )

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return super().to_internal_value(data)


class ExternalAPIPlugin(RemoteGuardrail):
    name = "external_api"
    label = "External API"
    description = "Asks an external verdict service; conditions on its answer refuse (422)."
    settings_serializer = ExternalAPISettingsSerializer
    Config = ExternalAPIConfig
    config: ExternalAPIConfig
    secret_settings = ("headers.*", "query_params.*.value")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.endpoint: str = config.endpoint
        self.method: str = config.method
        self.headers: dict[str, str] = dict(config.headers)
        self.params = [(p.name, p.value) for p in config.query_params]
        self.field_maps = [
            (split_path(m.source), split_path(m.destination)) for m in config.field_maps
        ]
        self.conditions = [
            (condition, split_path(condition.field)) for condition in config.conditions
        ]

    def check(self, texts: Sequence[str], *, source: str, request: RequestContext) -> Verdict:
        text = "\n".join(texts)
        document = request.json_body() if source == "INPUT" else None
        payload = self.payload(document, text)
        answer = call_json(
            self.method,
            self.endpoint,
            timeout=self.timeout,
            headers=self.headers,
            params=self.params,
            payload=payload if self.method != "GET" else None,
        )
        for condition, path in self.conditions:
            if not matches(value_at(answer, path), condition):
                continue
            message = condition.message or DEFAULT_MESSAGE
            if condition.stop_flow:
                return Verdict(flagged=True, status=422, message=message, kinds=("condition",))
            request.findings.append(Finding(self.name, "condition", "logged"))
        return Verdict()

    def payload(self, document: Any, text: str) -> dict[str, Any]:
        """The service's request: each mapped source at its destination (`input`, unless the
        body has one, is the text checked); without field maps, `{"input": text}`."""
        if not self.field_maps:
            return {"input": text}
        if not isinstance(document, dict):
            document = {}
        document = {"input": text, **document}
        payload: dict[str, Any] = {}
        for source_path, destination in self.field_maps:
            value = value_at(document, source_path)
            if value is not MISSING:
                place(payload, destination, value)
        return payload


def place(payload: dict[str, Any], path: Path, value: Any) -> None:
    """Set `value` at a dot path of nested objects, creating them."""
    holder = payload
    for step in path[:-1]:
        if not isinstance(holder.get(str(step)), dict):
            holder[str(step)] = {}
        holder = holder[str(step)]
    holder[str(path[-1])] = value


def matches(actual: Any, condition: Condition) -> bool:
    """Whether the answer's value at the condition's field satisfies it (a missing field
    satisfies only `neq`)."""
    operator, expected = condition.operator, condition.value
    if actual is MISSING:
        return operator == "neq"
    if operator in ("eq", "neq"):
        return (actual == expected) == (operator == "eq")
    if operator == "contains":
        if isinstance(actual, str) and isinstance(expected, str):
            return expected in actual
        return isinstance(actual, list) and expected in actual
    numbers = [v for v in (actual, expected) if isinstance(v, int | float)]
    if len(numbers) < 2 or any(isinstance(v, bool) for v in numbers):
        return False
    return actual > expected if operator == "gt" else actual < expected
