"""What a guardrail checks, and how a changed (masked) text is written back: LLM message texts,
else JSON fields named in settings, else the whole body."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway_project.json_strings import located_strings
from plugins.sdk.llm_content import MessageText, answer_texts, message_texts, set_at
from plugins.sdk.media_types import is_binary, media_type

Path = tuple[str | int, ...]
WHOLE_BODY: Path = ()
MISSING = object()


def split_path(dotted: str) -> Path:
    """`messages.0.content` as keys and list indexes."""
    return tuple(int(step) if step.isdigit() else step for step in dotted.split("."))


def value_at(document: Any, path: Path) -> Any:
    """The value at `path`, or MISSING."""
    for step in path:
        if isinstance(document, dict) and isinstance(step, str) and step in document:
            document = document[step]
        elif isinstance(document, dict) and str(step) in document:
            document = document[str(step)]
        elif isinstance(document, list) and isinstance(step, int) and step < len(document):
            document = document[step]
        else:
            return MISSING
    return document


def field_texts(document: Any, fields: Sequence[Path]) -> list[MessageText]:
    """The strings at (and under) each of `fields`."""
    found = []
    for path in fields:
        value = value_at(document, path)
        if value is not MISSING:
            found.extend(
                MessageText("field", text, at) for at, text in located_strings(value, path)
            )
    return found


def body_texts(
    body: bytes, document: Any, fields: Sequence[Path], content_type: str, *, answer: bool
) -> list[Any]:
    """The texts of a request (`answer` false) or response body: the LLM texts, else the named
    fields, else (nothing found) the whole body decoded (path WHOLE_BODY) unless binary."""
    texts = answer_texts(document) if answer else message_texts(document)
    if not texts and fields and document is not None:
        texts = field_texts(document, fields)
    if not texts and body and not _binary(content_type):
        texts = [MessageText("body", body.decode("utf-8", errors="replace"), WHOLE_BODY)]
    return [item for item in texts if item.text.strip()]


def _binary(content_type: str) -> bool:
    """Bodies never checked whole as text: binary ones, and multipart ones (their text parts
    beside files are not one text a service could read, nor one it could rewrite)."""
    return is_binary(content_type) or media_type(content_type).startswith("multipart/")


def rewritten_body(document: Any, items: Sequence[MessageText], texts: Sequence[str]) -> bytes:
    """The body with each item's text replaced (in `document`, changed in place)."""
    if len(items) == 1 and items[0].path == WHOLE_BODY:
        return texts[0].encode()
    for item, text in zip(items, texts, strict=True):
        set_at(document, item.path, text)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
