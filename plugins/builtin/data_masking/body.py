"""Masking whole bodies: JSON string values, form values, text; other bodies are left alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from gateway_project.bounded_json import JSONRefused, loads
from gateway_project.conf import gateway_settings
from plugins.sdk.media_types import is_binary, media_type

FORM = "application/x-www-form-urlencoded"
Mask = Callable[[str], str]
NOT_PARSED = object()


@dataclass
class Masked:
    body: bytes
    json: Any = NOT_PARSED  # the masked JSON document, when the body is one


def body_kind(content_type: str, body: bytes) -> str | None:
    """ "json", "form", "text" or None (binary: left untouched)."""
    media = media_type(content_type)
    if media == FORM:
        return "form"
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
    body: bytes, content_type: str, mask: Mask, parsed: Callable[[], Any] | None = None
) -> Masked | None:
    """The body with its text masked, or None when nothing changed or it is not text. A text
    body that cannot be decoded raises: it is never forwarded unmasked."""
    kind = body_kind(content_type, body) if body else None
    if kind is None:
        return None
    if kind == "json":
        document = parsed() if parsed is not None else parse_json(body)
        if document is not None:
            masked = mask_json(document, mask)
            if masked == document:
                return None
            text = json.dumps(masked, ensure_ascii=False, separators=(",", ":"))
            return Masked(text.encode(), masked)
    text = body.decode(charset(content_type))
    new = mask_form(text, mask) if kind == "form" else mask(text)
    return None if new == text else Masked(new.encode(charset(content_type)))


def parse_json(body: bytes) -> Any:
    try:
        return loads(body, gateway_settings.MAX_JSON_DEPTH)
    except (ValueError, JSONRefused):  # not JSON, too deep or repeating a key: masked as text
        return None


def mask_json(value: Any, mask: Mask) -> Any:
    """Every string value masked; keys, structure and other values kept."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_json(item, mask) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_json(item, mask) for item in value]
    return value


def mask_form(text: str, mask: Mask) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [(name, mask(value)) for name, value in pairs]
    return text if masked == pairs else urlencode(masked)
