"""multipart bodies split at their delimiters byte for byte, each text part masked in place;
a body that does not split cleanly is refused, never forwarded unmasked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.http import parse_header_parameters

from plugins.sdk.context import PluginRejection

CRLF = b"\r\n"
PADDING = b" \t"  # transport padding allowed after a delimiter (RFC 2046 5.1.1)
IDENTITY_ENCODINGS = ("", "7bit", "8bit", "binary")
MAX_BOUNDARY = 70
MAX_DEPTH = 4  # multipart inside multipart, at most this deep


class Unparsable(PluginRejection):
    """A 400: masking on, the body is refused rather than sent on as it came."""

    def __init__(self, why: str) -> None:
        super().__init__(400, f"multipart body not masked: {why}")


@dataclass(frozen=True)
class Part:
    start: int  # where the content begins in the body
    end: int
    content_type: str
    name: str  # the form field: a context word of the value
    encoding: str

    def check_identity(self) -> None:
        """A text part's content is what the upstream reads (no base64 or quoted-printable)."""
        if self.encoding not in IDENTITY_ENCODINGS:
            raise Unparsable(f"a text part in {self.encoding}")


# A part's content, the part and its depth -> the content masked, or None when unchanged.
MaskPart = Callable[[bytes, Part, int], "bytes | None"]


def boundary_of(content_type: str) -> bytes:
    boundary = parse_header_parameters(content_type)[1].get("boundary", "")
    if not boundary or len(boundary) > MAX_BOUNDARY or not boundary.isascii():
        raise Unparsable("no valid boundary")
    return boundary.encode()


def parts(body: bytes, boundary: bytes) -> list[Part]:
    """The parts between the first delimiter and the closing one. Every `--boundary` of the
    body must be one of those delimiters: a parser that splits elsewhere sees no other part."""
    delimiter = b"--" + boundary
    pos = 0 if body.startswith(delimiter) else body.find(CRLF + delimiter)
    if pos < 0:
        raise Unparsable("no delimiter")
    pos += len(CRLF) if pos else 0
    found, closed = [], False
    while not closed:
        line_end = body.find(CRLF, pos)
        rest = body[pos + len(delimiter) : len(body) if line_end < 0 else line_end]
        closed = rest.startswith(b"--")
        if rest[2 if closed else 0 :].strip(PADDING):
            raise Unparsable("text after a delimiter")
        if closed:
            break
        if line_end < 0:
            raise Unparsable("no closing delimiter")
        start = line_end + len(CRLF)
        end = body.find(CRLF + delimiter, start)
        if end < 0:
            raise Unparsable("no closing delimiter")
        found.append(part_at(body, start, end))
        pos = end + len(CRLF)
    if body.count(delimiter) != len(found) + 1:
        raise Unparsable("a boundary outside a delimiter")
    return found


def part_at(body: bytes, start: int, end: int) -> Part:
    """The part in `body[start:end]`: its header lines, an empty line, its content."""
    if body.startswith(CRLF, start, end):
        head, content = b"", start + len(CRLF)
    else:
        split = body.find(CRLF + CRLF, start, end)
        if split < 0:
            raise Unparsable("a part without an empty line after its headers")
        head, content = body[start:split], split + 2 * len(CRLF)
    fields: dict[str, str] = {}
    for line in head.split(CRLF) if head else ():
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        name = name.strip().lower()
        if not colon or not name or line[:1] in PADDING or name in fields:
            raise Unparsable("a part header that is folded, repeated or not a header")
        fields[name] = value.strip()
    disposition = parse_header_parameters(fields.get("content-disposition", ""))[1]
    return Part(
        content,
        end,
        fields.get("content-type", ""),
        disposition.get("name", ""),
        fields.get("content-transfer-encoding", "").lower(),
    )


def mask_multipart(body: bytes, content_type: str, mask_part: MaskPart, depth: int = 0) -> bytes:
    """`body` with the content of each part `mask_part` changes replaced, the rest as it came."""
    if depth >= MAX_DEPTH:
        raise Unparsable("nested too deep")
    out, last = [], 0
    for part in parts(body, boundary_of(content_type)):
        content = body[part.start : part.end]
        masked = mask_part(content, part, depth + 1)
        if masked is None:
            continue
        out += [body[last : part.start], masked]
        last = part.end
    return b"".join([*out, body[last:]]) if out else body
