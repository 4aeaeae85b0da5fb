"""A mock OpenAI-compatible provider: `POST /v1/chat/completions` answered with the wire format of
OpenAI's API reference (chat.completion JSON, chat.completion.chunk SSE ending in `[DONE]`,
usage in the last chunk with `stream_options.include_usage`), or failing as a test asks."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from requests.structures import CaseInsensitiveDict

from tests.builders import provider_target
from tests.upstream import EchoHandler, SeenRequest, UpstreamServer

PROMPT_TOKENS, COMPLETION_TOKENS = 9, 12
WORDS = ["Hello", " from", " the", " mock"]


@dataclass
class Behaviour:
    """How the mock answers: `status` other than 200 is an OpenAI error body; `delay` seconds
    before answering; `break_stream`: a 200 stream cut after its first event; `chunked_json`:
    a JSON answer sent chunked, without Content-Length."""

    status: int = 200
    delay: float = 0.0
    break_stream: bool = False
    chunked_json: bool = False


class OpenAIHandler(EchoHandler):
    server: OpenAIServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = CaseInsensitiveDict(self.headers.items())
        self.server.record(SeenRequest("POST", self.path, "", headers, body, self.server.port))
        behaviour = self.server.behaviour
        time.sleep(behaviour.delay)
        if behaviour.status != 200:
            self._error(behaviour.status)
            return
        request = json.loads(body)
        if request.get("stream"):
            self._stream(request, behaviour.break_stream)
        else:
            self._completion(request, behaviour.chunked_json)

    def _base(self, request: dict, kind: str) -> dict:
        return {
            "id": "chatcmpl-mock",
            "object": kind,
            "created": int(time.time()),
            "model": request["model"],
            "system_fingerprint": "fp_mock",
        }

    def _completion(self, request: dict, chunked: bool) -> None:
        answer = {
            **self._base(request, "chat.completion"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(WORDS)},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            },
        }
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._chunk(payload[:40])
            self._chunk(payload[40:])
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, request: dict, cut: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = self._base(request, "chat.completion.chunk")
        for index, word in enumerate(WORDS):
            delta = {"role": "assistant", "content": word} if index == 0 else {"content": word}
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            self._event({**base, "choices": [choice]})
            if cut:
                self.close_connection = True
                return  # no last chunk: the body ends in the middle
        done = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
        self._event({**base, "choices": [done]})
        if (request.get("stream_options") or {}).get("include_usage"):
            usage = {
                "prompt_tokens": PROMPT_TOKENS,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
            }
            self._event({**base, "choices": [], "usage": usage})
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _event(self, data: dict) -> None:
        self._chunk(f"data: {json.dumps(data)}\n\n".encode())

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _error(self, status: int) -> None:
        kind = "rate_limit_exceeded" if status == 429 else "server_error"
        error = {"message": f"mock {kind}", "type": kind, "param": None, "code": kind}
        payload = json.dumps({"error": error}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class OpenAIServer(UpstreamServer):
    handler_class = OpenAIHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.behaviour = Behaviour()

    def target(self, model: str, provider: str = "openai", **extra: object) -> dict:
        """A provider target of the admin API pointing at this server, serving `model`."""
        return provider_target(self.port, model, provider, **extra)
