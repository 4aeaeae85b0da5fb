"""Each provider's official schema package checks every request its mock receives: the request
types of the `openai` and `anthropic` SDKs made strict, botocore's `bedrock-runtime` service
model, the `google-genai` types. A translation that drifts from a provider's API fails."""

from __future__ import annotations

import collections.abc
import os
import types
import typing
from functools import cache
from typing import Any, NotRequired, Required

import pydantic
from anthropic.types import message_create_params
from botocore.exceptions import ParamValidationError
from botocore.loaders import create_loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator
from google.genai import types as genai
from openai.types.chat import completion_create_params
from openai.types.responses import response_create_params
from typing_extensions import TypedDict, is_typeddict

FORBID = pydantic.ConfigDict(extra="forbid")
SEQUENCES = (collections.abc.Iterable, collections.abc.Sequence, list)


def strict(tp: Any, made: dict | None = None) -> Any:
    """`tp` with every TypedDict refusing unknown keys, every iterable a list (validated at
    once, not lazily), and what JSON never holds left out of unions (response models, files)."""
    made = {} if made is None else made
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if is_typeddict(tp):
        if tp not in made:
            made[tp] = tp  # a cycle (none of the request types has one) stops at the original
            hints = typing.get_type_hints(tp, include_extras=True)
            fields = {
                name: (Required if name in tp.__required_keys__ else NotRequired)[
                    strict(unwrapped(hint), made)
                ]
                for name, hint in hints.items()
            }
            made[tp] = TypedDict(tp.__name__, fields, total=False)
            made[tp].__pydantic_config__ = FORBID
        return made[tp]
    if origin is typing.Annotated:
        return typing.Annotated[(strict(args[0], made), *tp.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        kept = [a for a in args if not never_on_the_wire(a)] or list(args)
        return typing.Union[tuple(strict(a, made) for a in kept)]  # noqa: UP007
    if origin in SEQUENCES and args:
        return list[strict(args[0], made)]
    return tp


def unwrapped(hint: Any) -> Any:
    """A field's type without its Required/NotRequired marker."""
    while typing.get_origin(hint) in (Required, NotRequired):
        hint = typing.get_args(hint)[0]
    return hint


def never_on_the_wire(tp: Any) -> bool:
    """A response model of the SDK (extras allowed) or a file object: not what JSON holds."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return never_on_the_wire(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return all(never_on_the_wire(a) for a in typing.get_args(tp))
    if origin is typing.IO or tp is typing.IO:
        return True
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel | os.PathLike)


def complaint(error: pydantic.ValidationError) -> str:
    """The deepest of the errors (the union member that came closest names the field)."""
    deepest = max(error.errors(), key=lambda found: len(found["loc"]))
    where = ".".join(str(part) for part in deepest["loc"])
    return f"{where}: {deepest['msg']}"


@cache
def openai_chat(streaming: bool) -> pydantic.TypeAdapter:
    params = completion_create_params
    kind = (
        params.CompletionCreateParamsStreaming
        if streaming
        else params.CompletionCreateParamsNonStreaming
    )
    return pydantic.TypeAdapter(strict(kind))


@cache
def anthropic_messages(streaming: bool) -> pydantic.TypeAdapter:
    params = message_create_params
    kind = (
        params.MessageCreateParamsStreaming if streaming else params.MessageCreateParamsNonStreaming
    )
    return pydantic.TypeAdapter(strict(kind))


def openai_problem(body: dict) -> str | None:
    """What the `openai` SDK's request types refuse in a chat completions body."""
    try:
        openai_chat(body.get("stream") is True).validate_python(body)
    except pydantic.ValidationError as error:
        return complaint(error)
    return None


# The SDK's types follow anthropic-version 2026-10-21, which refuses the sampling parameters;
# 2023-06-01 (what the gateway's translation sends) still takes them.
SAMPLING = ("temperature", "top_p", "top_k")


def anthropic_problem(body: dict, version: str) -> str | None:
    """What the `anthropic` SDK's request types refuse in a Messages body of `version`."""
    if version == "2023-06-01":
        for name in SAMPLING:
            if not isinstance(body.get(name, 0.5), int | float):
                return f"{name}: Input should be a valid number"
        body = {name: value for name, value in body.items() if name not in SAMPLING}
    try:
        anthropic_messages(body.get("stream") is True).validate_python(body)
    except pydantic.ValidationError as error:
        return complaint(error)
    return None


@cache
def bedrock_model() -> ServiceModel:
    return ServiceModel(create_loader().load_service_model("bedrock-runtime", "service-2"))


def bedrock_problem(model_id: str, action: str, body: dict) -> str | None:
    """What botocore's `bedrock-runtime` service model refuses in a Converse(Stream) body."""
    operation = bedrock_model().operation_model(
        "ConverseStream" if action == "converse-stream" else "Converse"
    )
    try:
        report = ParamValidator().validate({"modelId": model_id, **body}, operation.input_shape)
    except ParamValidationError as error:  # pragma: no cover - validate() returns a report
        return str(error)
    return report.generate_report() if report.has_errors() else None


def bedrock_invoke_problem(params: dict) -> str | None:
    """What botocore's `bedrock-runtime` service model refuses in an InvokeModel request
    (model id, body, content type and accept headers)."""
    operation = bedrock_model().operation_model("InvokeModel")
    report = ParamValidator().validate(params, operation.input_shape)
    if report.has_errors():
        return report.generate_report()
    if params["contentType"] != "application/json":
        return "InvokeModel takes a JSON body (Content-Type: application/json) here"
    return None


# The REST body of generateContent, field by field, as the google-genai types model them.
GEMINI_FIELDS: dict[str, Any] = {
    "contents": list[genai.Content],
    "systemInstruction": genai.Content,
    "generationConfig": genai.GenerationConfig,
    "tools": list[genai.Tool],
    "toolConfig": genai.ToolConfig,
    "safetySettings": list[genai.SafetySetting],
    "cachedContent": str,
    "labels": dict[str, str],
}


@cache
def gemini_field(name: str) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(GEMINI_FIELDS[name])


def gemini_problem(body: dict) -> str | None:
    """What the google-genai types refuse in a generateContent body (camelCase, as on the
    wire; every model of theirs refuses unknown fields)."""
    for name, value in body.items():
        if name not in GEMINI_FIELDS:
            return f"Invalid JSON payload received. Unknown name {name!r}"
        try:
            gemini_field(name).validate_python(value, by_alias=True, by_name=False)
        except pydantic.ValidationError as error:
            return f"{name}.{complaint(error)}"
    return None


@cache
def openai_responses(streaming: bool) -> pydantic.TypeAdapter:
    params = response_create_params
    kind = (
        params.ResponseCreateParamsStreaming
        if streaming
        else params.ResponseCreateParamsNonStreaming
    )
    return pydantic.TypeAdapter(strict(kind))


def responses_problem(body: dict) -> str | None:
    """What the `openai` SDK's request types refuse in a Responses body."""
    try:
        openai_responses(body.get("stream") is True).validate_python(body)
    except pydantic.ValidationError as error:
        return complaint(error)
    return None
