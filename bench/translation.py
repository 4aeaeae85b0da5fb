"""In-process CPU cost of the LLM front's translation, per request: the OpenAI chat request
built for Anthropic and the answer mapped back; a streamed answer translated event by event.
`python -m bench.translation` (no servers needed)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

ROUNDS = 2000


def cpu_us(work: Callable[[], object], rounds: int = ROUNDS) -> float:
    """CPU microseconds per call of `work` (process time, so other load does not count)."""
    for _ in range(rounds // 10):
        work()
    started = time.process_time()
    for _ in range(rounds):
        work()
    return (time.process_time() - started) / rounds * 1e6


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    import django

    django.setup()
    from bench.config import CHAT_REQUEST
    from bench.llm_upstream import ANTHROPIC_MESSAGE, anthropic_groups
    from proxy.balancer import Target
    from proxy.llm.adapters import ADAPTERS
    from proxy.llm.wire import CHAT, Call, TargetOptions

    target = Target("t", "http://127.0.0.1:1", provider="anthropic", models=("gpt-4o-mini",))
    adapter = ADAPTERS["anthropic"]
    raw = json.dumps(CHAT_REQUEST).encode()
    answer = json.dumps(ANTHROPIC_MESSAGE).encode()
    stream_body = CHAT_REQUEST | {"stream": True, "stream_options": {"include_usage": True}}
    events = anthropic_groups()

    def call_of(body: dict) -> Call:
        return Call(CHAT, body, "gpt-4o-mini", target, TargetOptions(), raw)

    def request_and_answer() -> bytes:
        call = call_of(json.loads(raw))
        json.dumps(adapter.chat_request(call).body).encode()
        return json.dumps(adapter.chat_answer(json.loads(answer), call)).encode()

    def stream() -> bytes:
        translator = adapter.chat_stream(call_of(stream_body), None)
        return b"".join(translator.feed(event) for event in events) + translator.finish()

    first = adapter.chat_stream(call_of(stream_body), None)
    print(f"chat request + JSON answer: {cpu_us(request_and_answer):.1f} µs CPU per request")
    print(f"stream of {len(events)} groups: {cpu_us(stream, ROUNDS // 4):.1f} µs CPU per stream")
    print(f"first chunk: {cpu_us(lambda: first.out.role()):.1f} µs CPU")


if __name__ == "__main__":
    main()
