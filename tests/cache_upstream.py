"""A mock OpenAI provider for the response cache tests: chat answers that echo the last user
message (JSON, or chunks ending in `[DONE]`, or a stream cut after its first event), and
`/v1/embeddings` answering the vector a test set for each input (a 500 for an unknown one)."""

from __future__ import annotations

import json

from tests.openai_upstream import COMPLETION_TOKENS, PROMPT_TOKENS, OpenAIHandler, OpenAIServer
from tests.upstream import SeenRequest

USAGE = {
    "prompt_tokens": PROMPT_TOKENS,
    "completion_tokens": COMPLETION_TOKENS,
    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
}


def echoed(request: dict) -> list[str]:
    """The answer's pieces: `You said: ` and the last user message."""
    users = [m["content"] for m in request.get("messages", []) if m.get("role") == "user"]
    return ["You said: ", users[-1] if users else ""]


class CacheMockHandler(OpenAIHandler):
    server: CacheMockServer

    def do_POST(self) -> None:
        if not self.path.endswith("/embeddings"):
            super().do_POST()
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.record(SeenRequest("POST", self.path, "", self.headers, body, self.server.port))
        request = json.loads(body)
        vector = self.server.vectors.get(request["input"])
        if vector is None:
            self._error(500)
            return
        answer = {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": vector}],
            "model": request["model"],
            "usage": {"prompt_tokens": 3, "total_tokens": 3},
        }
        self._json_answer(answer)

    def _completion(self, request: dict, chunked: bool) -> None:
        message = {"role": "assistant", "content": "".join(echoed(request))}
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        answer = {**self._base(request, "chat.completion"), "choices": [choice], "usage": USAGE}
        self._json_answer(answer)

    def _stream(self, request: dict, cut: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = self._base(request, "chat.completion.chunk")
        for index, piece in enumerate(echoed(request)):
            delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
            self._event({**base, "choices": [choice]})
            if cut:
                self.close_connection = True
                return  # no last chunk: the body ends in the middle
        done = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
        self._event({**base, "choices": [done]})
        if (request.get("stream_options") or {}).get("include_usage"):
            self._event({**base, "choices": [], "usage": USAGE})
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")

    def _json_answer(self, answer: dict) -> None:
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class CacheMockServer(OpenAIServer):
    handler_class = CacheMockHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.vectors: dict[str, list[float]] = {}

    def chats(self) -> int:
        """Chat requests seen so far."""
        return sum(1 for seen in self.seen if seen.path.endswith("/chat/completions"))

    def embeddings(self) -> int:
        return sum(1 for seen in self.seen if seen.path.endswith("/embeddings"))

    def reset(self) -> None:
        self.seen.clear()
        self.behaviour.break_stream = False
