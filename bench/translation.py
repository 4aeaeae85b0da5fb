"""In-process CPU cost of the LLM front's translation, per request: the OpenAI chat request
built for Anthropic and the answer mapped back; a streamed answer translated event by event;
the same request in the Responses API's shape beside it. `python -m bench.translation` (no
servers needed)."""

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


def ignore(settled: object) -> None:
    """The usage a translator settles, or the response a Responses stream finishes: unused."""


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    import django

    django.setup()
    from bench.config import CHAT_REQUEST, RESPONSES_REQUEST
    from bench.llm_upstream import ANTHROPIC_MESSAGE, anthropic_groups
    from proxy.balancer import Target
    from proxy.llm.adapters import ADAPTERS
    from proxy.llm.responses.answer import output_of, response_object
    from proxy.llm.responses.events import ResponsesStream
    from proxy.llm.responses.request import chat_body, checked_request, input_items
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
        translator = adapter.chat_stream(call_of(stream_body), ignore)
        return b"".join(translator.feed(event) for event in events) + translator.finish()

    responses_raw = json.dumps(RESPONSES_REQUEST).encode()

    def responses_chat(body: dict) -> Call:
        request = checked_request(body)
        return call_of(chat_body(request, input_items(request)))

    def responses_request_and_answer() -> bytes:
        request = json.loads(responses_raw)
        call = responses_chat(request)
        json.dumps(adapter.chat_request(call).body).encode()
        completion = adapter.chat_answer(json.loads(answer), call)
        output, _ = output_of(completion)
        answered = response_object(request, "resp_bench", call.model, output, completion["usage"])
        return json.dumps(answered).encode()

    def responses_stream() -> bytes:
        request = json.loads(responses_raw) | {"stream": True}
        inner = adapter.chat_stream(responses_chat(request), ignore)
        translator = ResponsesStream(inner, request, "resp_bench", ignore)
        return b"".join(translator.feed(event) for event in events) + translator.finish()

    first = adapter.chat_stream(call_of(stream_body), ignore)
    print(f"chat request + JSON answer: {cpu_us(request_and_answer):.1f} µs CPU per request")
    print(f"stream of {len(events)} groups: {cpu_us(stream, ROUNDS // 4):.1f} µs CPU per stream")
    responses = cpu_us(responses_request_and_answer)
    print(f"Responses request + JSON answer: {responses:.1f} µs CPU per request")
    responses_events = cpu_us(responses_stream, ROUNDS // 4)
    print(f"Responses stream of {len(events)} groups: {responses_events:.1f} µs CPU per stream")
    print(f"first chunk: {cpu_us(lambda: first.out.role()):.1f} µs CPU")


if __name__ == "__main__":
    main()
