"""Mock LLM provider for the LLM front's rows: OpenAI's `/v1/chat/completions` and Anthropic's
`/v1/messages`, a JSON answer, or (`"stream": true`) a stream of the same number of client
events once translated, one per interval, the first at once (asyncio)."""

from __future__ import annotations

import argparse
import asyncio
import json

from bench.config import CHAT_COMPLETION, SSE_EVENTS
from bench.sse_upstream import HEADERS, chunk, read_request

# Text deltas per stream: the client gets them plus the role chunk, the finish chunk and
# `[DONE]` whatever the provider, SSE_EVENTS events in all.
DELTAS = SSE_EVENTS - 3
ANTHROPIC_MESSAGE = {
    "id": "msg_bench",
    "type": "message",
    "role": "assistant",
    "model": "gpt-4o-mini",
    "content": [{"type": "text", "text": "Hello there!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 14, "output_tokens": 3},
}


def sse(data: dict, event: str = "") -> bytes:
    line = f"event: {event}\n" if event else ""
    return (line + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()


def openai_events() -> list[bytes]:
    def delta(content: dict, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": content, "finish_reason": finish}
        return sse({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "choices": [choice]})

    events = [delta({"role": "assistant", "content": ""})]
    events += [delta({"content": f"word{i} "}) for i in range(DELTAS)]
    return events + [delta({}, "stop"), b"data: [DONE]\n\n"]


def anthropic_events() -> list[bytes]:
    start = {k: v for k, v in ANTHROPIC_MESSAGE.items() if k != "content"} | {"content": []}
    events = [sse({"type": "message_start", "message": start}, "message_start")]
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    events.append(sse(block, "content_block_start"))
    for i in range(DELTAS):
        delta = {"type": "text_delta", "text": f"word{i} "}
        events.append(
            sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
        )
    events.append(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    stop = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append(
        sse(
            {"type": "message_delta", "delta": stop, "usage": {"output_tokens": DELTAS}},
            "message_delta",
        )
    )
    return events + [sse({"type": "message_stop"}, "message_stop")]


def anthropic_groups() -> list[bytes]:
    """Anthropic's events grouped as the client's chunks come out of them (one per interval):
    message_start with the first block's start, each delta, the block's stop with the
    message_delta, message_stop."""
    events = anthropic_events()
    return [events[0] + events[1], *events[2:-3], events[-3] + events[-2], events[-1]]


def json_answer(payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def answer(writer: asyncio.StreamWriter, head: bytes, body: bytes, interval: float) -> None:
    anthropic = b" /v1/messages " in head.split(b"\r\n", 1)[0]
    if b'"stream":true' not in body.replace(b" ", b""):
        writer.write(json_answer(ANTHROPIC_MESSAGE if anthropic else CHAT_COMPLETION))
        await writer.drain()
        return
    writer.write(HEADERS.encode())
    for index, group in enumerate(anthropic_groups() if anthropic else openai_events()):
        if index:
            await asyncio.sleep(interval)
        writer.write(chunk(group))
        await writer.drain()
    writer.write(chunk(b""))
    await writer.drain()


def make_handler(interval: float):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            keep_alive = True
            while keep_alive and (request := await read_request(reader)) is not None:
                keep_alive, head, body = request
                await answer(writer, head, body, interval)
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handle


async def serve(host: str, port: int, interval: float) -> None:
    server = await asyncio.start_server(make_handler(interval), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.interval))


if __name__ == "__main__":
    main()
