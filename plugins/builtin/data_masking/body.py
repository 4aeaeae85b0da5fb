"""Masking whole bodies: JSON string values, form values, text, multipart text parts; other
bodies are left alone. The name a value stands under (JSON key, form field) is its context."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway_project.bounded_json import JSONRefused, loads
from gateway_project.conf import gateway_settings
from plugins.builtin.data_masking.multipart import Part, mask_multipart
from plugins.sdk.media_types import is_binary, media_type

FORM = "application/x-www-form-urlencoded"
Mask = Callable[[str, str], str]  # (text, the name it is the value of) -> the text masked
NOT_PARSED = object()


@dataclass
class Masked:
    body: bytes
    json: Any = NOT_PARSED  # the masked JSON document, when the body is one


def body_kind(content_type: str, body: bytes) -> str | None:
    """ "json", "form", "text", "multipart" or None (binary: left untouched)."""
    media = media_type(content_type)
    if media == FORM:
        return "form"
    if media.startswith("multipart/"):
        return "multipart"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media:
        return None if is_binary(media) else "text"
    try:
        body.decode()
    except UnicodeDecodeError:
        return None
    return "json" if body.lstrip()[:1] in (b"{", b"[", b'"') else "text"


def charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return "utf-8"


def mask_body(
    body: bytes,
    content_type: str,
    mask: Mask,
    parsed: Callable[[], Any] | None = None,
    *,
    keys: bool = False,
    name: str = "",
    depth: int = 0,
) -> Masked | None:
    """The body with its text masked, or None when nothing changed or it is not text. A text
    body that cannot be decoded raises, a multipart one that cannot be split is refused: it is
    never forwarded unmasked. `keys`: JSON key names masked too; `name`: the form field the
    body is the value of (a multipart part)."""
    kind = body_kind(content_type, body) if body else None
    if kind is None:
        return None
    if kind == "multipart":

        def mask_part(content: bytes, part: Part, depth: int) -> bytes | None:
            if body_kind(part.content_type, content) is None:
                return None  # binary: sent on as it came
            part.check_identity()
            masked = mask_body(
                content, part.content_type, mask, keys=keys, name=part.name, depth=depth
            )
            return None if masked is None else masked.body

        new_body = mask_multipart(body, content_type, mask_part, depth)
        return None if new_body == body else Masked(new_body)
    if kind == "json":
        document = parsed() if parsed is not None else parse_json(body)
        if document is not None:
            masked = mask_json(document, mask, name, keys=keys)
            if masked == document:
                return None
            text = json.dumps(masked, ensure_ascii=False, separators=(",", ":"))
            return Masked(text.encode(), masked)
    text = body.decode(charset(content_type))
    new = mask_form(text, mask) if kind == "form" else mask(text, name)
    return None if new == text else Masked(new.encode(charset(content_type)))


def parse_json(body: bytes) -> Any:
    try:
        return loads(body, gateway_settings.MAX_JSON_DEPTH)
    except (ValueError, JSONRefused):  # not JSON, too deep or repeating a key: masked as text
        return None


def mask_json(value: Any, mask: Mask, key: str = "", *, keys: bool = False) -> Any:
    """Every string value masked, in the context of its nearest key; key names masked too when
    `keys`; structure and other values kept."""
    if isinstance(value, str):
        return mask(value, key)
    if isinstance(value, dict):
        return {
            mask(name, "") if keys else name: mask_json(item, mask, name, keys=keys)
            for name, item in value.items()
        }
    if isinstance(value, list):
        return [mask_json(item, mask, key, keys=keys) for item in value]
    return value


def mask_form(text: str, mask: Mask) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(name, mask(value, name)) for name, value in pairs]
    return text if masked == pairs else urlencode(masked)
