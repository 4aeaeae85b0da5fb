"""Responses streams: a chat adapter's `chat.completion.chunk` events turned into Responses
events (output items, content parts, text and argument deltas, each with its
`sequence_number`), and OpenAI's own Responses events relayed while the finished response is
kept. A stream that ends unfinished ends with `response.failed`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from plugins.sdk.sse import DONE, SSEEvent, SSEParser, json_event
from proxy.llm.responses.answer import (
    finished,
    function_call_item,
    message_item,
    response_object,
)
from proxy.llm.streams import StreamTranslator
from proxy.llm.usage import merge_usage
from proxy.llm.wire import Call, Settle, new_id

Done = Callable[[dict[str, Any]], None]  # takes the finished response (to store it)
ENDINGS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


class ResponsesStream(StreamTranslator):
    """Wraps the chat translator of the target's adapter: its chunks in, Responses events out."""

    def __init__(
        self,
        inner: StreamTranslator,
        request: Mapping[str, Any],
        response_id: str,
        done: Done,
    ) -> None:
        super().__init__(inner.call, inner.settle)
        self.inner = inner
        self.request = request
        self.response_id = response_id
        self.done = done
        self.parser = SSEParser()
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.item: dict[str, Any] | None = None  # the output item being streamed
        self.tools: dict[int, dict[str, Any]] = {}  # chat tool call index -> its item

    def feed(self, data: bytes) -> bytes:
        return self.begin() + self.relay(self.inner.feed(data))

    def finish(self) -> bytes:
        return self.begin() + self.relay(self.inner.finish())

    def fail(self, message: str, kind: str = "upstream_error") -> bytes:
        if self.closed:
            return b""
        self.inner.fail(message, kind)  # settles the usage read so far
        return self.failed(message)

    def begin(self) -> bytes:
        if self.started:
            return b""
        self.started = True
        response = self.response("in_progress")
        created = self.emit("response.created", {"response": response})
        return created + self.emit("response.in_progress", {"response": response})

    def response(self, status: str) -> dict[str, Any]:
        output = self.output if status != "in_progress" else []
        usage = self.usage if status != "in_progress" else None
        return response_object(
            self.request, self.response_id, self.call.model, output, usage, status
        )

    def emit(self, kind: str, payload: dict[str, Any]) -> bytes:
        event = {"type": kind, "sequence_number": self.sequence, **payload}
        self.sequence += 1
        return json_event(event, event=kind).encode()

    def relay(self, chunks: bytes) -> bytes:
        if not chunks or self.closed:
            return b""
        out = []
        for event in self.parser.feed(chunks):
            if event.data == DONE:
                out.append(self.complete())
                continue
            data = event.json()
            if not isinstance(data, dict):
                continue
            if isinstance(data.get("error"), dict):
                out.append(self.failed(str(data["error"].get("message", "upstream error"))))
            else:
                out.append(self.chunk(data))
        return b"".join(out)

    def chunk(self, data: dict[str, Any]) -> bytes:
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        out = b""
        for choice in data.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str) and delta["content"]:
                out += self.text(delta["content"])
            for call in delta.get("tool_calls") or ():
                out += self.tool(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def text(self, text: str) -> bytes:
        out = b""
        if self.item is None or self.item["type"] != "message":
            out += self.close_item()
            self.item = message_item("", status="in_progress")
            self.item["text"] = ""
            out += self.added()
            part = {"type": "output_text", "text": "", "annotations": []}
            out += self.emit("response.content_part.added", {**self.where(), "part": part})
        self.item["text"] += text
        delta = {**self.where(), "delta": text, "logprobs": []}
        return out + self.emit("response.output_text.delta", delta)

    def tool(self, call: dict[str, Any]) -> bytes:
        out = b""
        index = call.get("index", 0)
        function = call.get("function") or {}
        if index not in self.tools:
            out += self.close_item()
            call_id = call.get("id") or new_id("call_")
            self.item = function_call_item(
                call_id, function.get("name") or "", "", status="in_progress"
            )
            self.tools[index] = self.item
            out += self.added()
        arguments = function.get("arguments") or ""
        if arguments and self.tools[index] is self.item:
            self.item["arguments"] += arguments
            payload = {"item_id": self.item["id"], "output_index": len(self.output)}
            out += self.emit(
                "response.function_call_arguments.delta", {**payload, "delta": arguments}
            )
        return out

    def where(self) -> dict[str, Any]:
        return {"item_id": self.item["id"], "output_index": len(self.output), "content_index": 0}

    def added(self) -> bytes:
        item = {k: v for k, v in self.item.items() if k != "text"}
        return self.emit(
            "response.output_item.added", {"output_index": len(self.output), "item": item}
        )

    def close_item(self) -> bytes:
        """The `.done` events of the item being streamed; it joins the output."""
        item, self.item = self.item, None
        if item is None:
            return b""
        index = len(self.output)
        out = b""
        if item["type"] == "message":
            text = item.pop("text")
            where = {"item_id": item["id"], "output_index": index, "content_index": 0}
            part = {"type": "output_text", "text": text, "annotations": []}
            out += self.emit("response.output_text.done", {**where, "text": text, "logprobs": []})
            out += self.emit("response.content_part.done", {**where, "part": part})
            item.update(message_item(text, item["id"]))
        else:
            payload = {"item_id": item["id"], "output_index": index, "name": item["name"]}
            payload["arguments"] = item["arguments"] or "{}"
            out += self.emit("response.function_call_arguments.done", payload)
            item.update(status="completed", arguments=item["arguments"] or "{}")
        self.output.append(item)
        return out + self.emit("response.output_item.done", {"output_index": index, "item": item})

    def complete(self) -> bytes:
        if self.closed:
            return b""
        out = self.close_item()
        self.closed = True
        answer = finished(self.response("completed"), self.finish_reason)
        kind = "response.completed" if answer["status"] == "completed" else "response.incomplete"
        out += self.emit(kind, {"response": answer})
        self.done(answer)
        return out

    def failed(self, message: str) -> bytes:
        if self.closed:
            return b""
        self.closed = True
        answer = self.response("failed")
        answer["error"] = {"code": "server_error", "message": message}
        return self.begin() + self.emit("response.failed", {"response": answer})


class ResponsesRelay(StreamTranslator):
    """OpenAI's own Responses events, passed on as they come; the finished response is kept
    (`done`) and its usage settled. A stream cut before its end gets `response.failed`."""

    def __init__(self, call: Call, settle: Settle, done: Done) -> None:
        super().__init__(call, settle)
        self.done = done
        self.parser = SSEParser()
        self.sequence = 0
        self.response_id = ""

    def feed(self, data: bytes) -> bytes:
        return b"".join(self.event(event) for event in self.parser.feed(data))

    def finish(self) -> bytes:
        return b"".join(self.event(event) for event in self.parser.finish())

    def event(self, event: SSEEvent) -> bytes:
        data = event.json()
        if isinstance(data, dict) and not self.closed:
            if isinstance(data.get("sequence_number"), int):
                self.sequence = data["sequence_number"] + 1
            response = data.get("response")
            if isinstance(response, dict):
                self.response_id = response.get("id") or self.response_id
            kind = data.get("type") or event.event
            if kind in ENDINGS:
                self.closed = True
                usage: dict[str, int] = {}
                merge_usage(usage, data)
                self.settle(usage)
                if kind == "response.completed" and isinstance(response, dict):
                    self.done(response)
        return event.encode()

    def fail(self, message: str, kind: str = "upstream_error") -> bytes:
        if self.closed:
            return b""
        self.closed = True
        self.settle(None)
        response = {"id": self.response_id, "object": "response", "status": "failed"}
        response["error"] = {"code": "server_error", "message": message}
        event = {"type": "response.failed", "sequence_number": self.sequence, "response": response}
        return json_event(event, event="response.failed").encode()
