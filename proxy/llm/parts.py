"""OpenAI's `file` (a PDF as a data URL) and `input_audio` content parts: checked against the
parts a target's provider takes (400 naming the part), and read for the adapters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.inbound import ProxyError
from proxy.llm.base import Adapter
from proxy.llm.wire import InvalidRequest

FILE = "file"
INPUT_AUDIO = "input_audio"
PDF = "application/pdf"
# OpenAI's `input_audio.format` values -> their media types.
AUDIO_TYPES = {"wav": "audio/wav", "mp3": "audio/mp3"}


def refuse_parts(adapter: Adapter, body: Mapping[str, Any]) -> None:
    """A part of a user message the provider cannot take, or one it cannot read: 400 naming it
    (`messages[i].content[j]`); adapters that pass the client's parts on check nothing."""
    if adapter.content_parts is None:
        return
    for i, message in enumerate(body["messages"]):
        content = message.get("content")
        if message.get("role") != "user" or not isinstance(content, list):
            continue
        for j, part in enumerate(content):
            if (problem := part_problem(adapter, part)) is not None:
                field = f"messages[{i}].content[{j}]"
                raise ProxyError(400, f"{field}: {problem}", param=field)


def part_problem(adapter: Adapter, part: Mapping[str, Any]) -> str | None:
    kind = part["type"]
    if adapter.content_parts is not None and kind not in adapter.content_parts:
        return f"provider {adapter.name} takes no {kind} parts"
    if kind == FILE:
        return file_problem(adapter, part.get(FILE))
    if kind == INPUT_AUDIO:
        audio = part.get(INPUT_AUDIO)
        if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
            return "input_audio needs base64 data"
        if not audio["data"] or audio.get("format") not in AUDIO_TYPES:
            return "input_audio needs base64 data and a format of wav or mp3"
    return None


def file_problem(adapter: Adapter, file: Any) -> str | None:
    if not isinstance(file, dict):
        return "file must be an object"
    data = file.get("file_data")
    if data is None and file.get("file_id") is not None:
        return (
            f"provider {adapter.name} cannot resolve a file_id (an OpenAI upload): "
            "send the file as file_data"
        )
    if not isinstance(data, str) or document_of(file) is None:
        return "file.file_data must be a PDF, base64-encoded (data:application/pdf;base64,...)"
    return None


def document_of(file: Mapping[str, Any]) -> tuple[str, str] | None:
    """(base64 data, file name) of a `file` part's PDF, given as a data URL or bare base64;
    None when it is not one."""
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        return None
    if data.startswith("data:"):
        header, _, data = data[5:].partition(",")
        if header.lower() != f"{PDF};base64" or not data:
            return None
    name = file.get("filename")
    return data, name if isinstance(name, str) else ""


def audio_of(part: Mapping[str, Any]) -> tuple[str, str]:
    """(format, base64 data) of an `input_audio` part (checked by refuse_parts)."""
    audio = part[INPUT_AUDIO]
    return audio["format"], audio["data"]


def pdf_of(part: Mapping[str, Any]) -> tuple[str, str]:
    """(base64 data, file name) of a `file` part (checked by refuse_parts)."""
    found = document_of(part[FILE])
    if found is None:
        raise InvalidRequest("file parts must be PDFs given as file_data")
    return found
