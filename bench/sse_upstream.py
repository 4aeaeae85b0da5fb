"""Mock SSE upstream: answers every request (a GET, or a POST such as the SSE rows' streamed
chat completion, its body read) with N `data:` events, one per interval (asyncio).

`?events=N` in the request's query asks for N events instead (longer streams).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from urllib.parse import parse_qs, urlsplit

HEADERS = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/event-stream\r\n"
    "Cache-Control: no-cache\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
)


def chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunk of `payload` (an empty payload is the last chunk)."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def event(index: int) -> bytes:
    """The `index`-th server-sent event, an OpenAI-style streamed delta."""
    data = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "index": index}
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def requested_events(head: bytes, default: int) -> int:
    """The `events` query parameter of the request line, else `default`."""
    target = head.split(b"\r\n", 1)[0].split(b" ")[1:2]
    query = parse_qs(urlsplit(target[0].decode("latin-1")).query) if target else {}
    value = query.get("events", [""])[0]
    return int(value) if value.isdigit() else default


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked request body, to its last chunk and the blank line after it (no trailers)."""
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")
    return body


async def read_request(reader: asyncio.StreamReader) -> tuple[bool, bytes, bytes] | None:
    """Consume one request: its head and its body (Content-Length or chunked), so that the next
    request on the connection starts where this one ends.

    Returns None when the client is gone, else whether the connection stays open afterwards,
    the request head and its body.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        keep_alive, body = True, b""
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length" and int(value) > 0:
                body = await reader.readexactly(int(value))
            elif name == b"transfer-encoding" and value == b"chunked":
                body = await read_chunked(reader)
            elif name == b"connection" and value == b"close":
                keep_alive = False
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    return keep_alive, head, body


async def stream_events(writer: asyncio.StreamWriter, count: int, interval: float) -> None:
    """Send the headers and `count` events, the first at once, then one every `interval`."""
    writer.write(HEADERS.encode())
    for index in range(count):
        if index:
            await asyncio.sleep(interval)
        writer.write(chunk(event(index)))
        await writer.drain()
    writer.write(chunk(b""))
    await writer.drain()


def make_handler(count: int, interval: float):
    """A connection handler serving keep-alive requests until the client closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            keep_alive = True
            while keep_alive and (request := await read_request(reader)) is not None:
                keep_alive, head, _ = request
                await stream_events(writer, requested_events(head, count), interval)
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handle


async def serve(host: str, port: int, count: int, interval: float) -> None:
    handler = make_handler(count, interval)
    server = await asyncio.start_server(handler, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.events, args.interval))


if __name__ == "__main__":
    main()
