"""The SSE parser against streams cut at every byte, and the encoder's round trip."""

from __future__ import annotations

import pytest

from plugins.sdk.sse import SSEError, SSEEvent, SSEParser, json_event

STREAM = (
    b": keep-alive\r\n\r\n"
    b'event: message_start\r\ndata: {"a": 1}\r\n\r\n'
    b"data: line one\ndata:line two\n\n"
    b"id: 7\nretry: 100\ndata: x\r\r"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": 1}', "message_start"),
    SSEEvent("line one\nline two"),
    SSEEvent("x", id="7", retry="100"),
    SSEEvent("[DONE]"),
]


def parse_in_pieces(stream: bytes, size: int) -> list[SSEEvent]:
    parser = SSEParser()
    events = []
    for start in range(0, len(stream), size):
        events += parser.feed(stream[start : start + size])
    return events + parser.finish()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 10_000])
def test_events_are_the_same_however_the_stream_is_cut(size):
    assert parse_in_pieces(STREAM, size) == EXPECTED


def test_a_last_event_without_its_blank_line_is_kept():
    assert parse_in_pieces(b"data: tail", 4) == [SSEEvent("tail")]


def test_encoded_events_parse_back_to_themselves():
    events = [*EXPECTED, json_event({"k": "v"}, event="delta")]
    stream = b"".join(event.encode() for event in events)
    assert parse_in_pieces(stream, 3) == events


def test_json_of_done_and_of_non_json_is_none():
    assert SSEEvent("[DONE]").json() is None
    assert SSEEvent("plain").json() is None
    assert SSEEvent('{"x": [1]}').json() == {"x": [1]}


def test_an_endless_line_is_refused():
    parser = SSEParser()
    for _ in range(4):
        parser.feed(b"x" * (1024 * 1024))
    with pytest.raises(SSEError):
        parser.feed(b"x")
