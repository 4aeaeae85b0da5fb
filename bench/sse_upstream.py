"""Mock SSE upstream: answers every request with N `data:` events, one per interval (asyncio)."""

from __future__ import annotations

import argparse
import asyncio
import json

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


async def read_request(reader: asyncio.StreamReader) -> tuple[bool, bytes, bytes] | None:
    """Consume one request (head and Content-Length body).

    Returns None when the client is gone, else whether the connection stays open afterwards,
    the request head and its body.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    keep_alive, body = True, b""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length" and int(value) > 0:
            body = await reader.readexactly(int(value))
        elif name == b"connection" and value == b"close":
            keep_alive = False
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
                keep_alive = request[0]
                await stream_events(writer, count, interval)
        except ConnectionError:
            pass
        finally:
            writer.close()

    return handle


async def serve(host: str, port: int, count: int, interval: float) -> None:
    server = await asyncio.start_server(make_handler(count, interval), host, port, backlog=1024)
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
