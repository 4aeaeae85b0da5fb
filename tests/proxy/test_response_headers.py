"""Header lines set on a proxy response in one batch (`set_headers`: the upstream's, the plugins',
the latency headers) end as Django's line-by-line `response[name] = value` would leave them: the
same lines, values and order, the same refusal of CR and LF, the same encoding of the rest."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import BadHeaderError, HttpResponseBase

from proxy.responses import ProxyResponse, StreamingProxyResponse

BATCHES: list[list[Any]] = [
    [],
    [("X-A", "1"), ("x-b", ""), ("X-RateLimit-Limit", "10"), ("X-Gateway-Latency-Ms", "0.12")],
    [("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2"), ("Vary", "Origin")],
    [("X-A", "caf\u00e9"), ("X-B", "1")],
    [("X-A", "\u2603 snow")],
    [("X-A", b"bytes")],
    [("X-A", 7)],
    [("X-A", "1\r\nSet-Cookie: stolen=1")],
    [("X-A", "1"), ("X-B", "2\nSet-Cookie: stolen=1")],
    [("X-A", "1\rSet-Cookie: stolen=1")],
    [("X-A\r\nSet-Cookie", "stolen=1")],
    [("X-\u00e9", "1")],
]


def outcome(response_class: type, batch: list[Any], batched: bool) -> Any:
    response = response_class(b"") if response_class is ProxyResponse else response_class([])
    response["X-A"] = "before"
    try:
        if batched:
            response.set_headers(batch)
        else:
            for name, value in batch:
                response[name] = value
    except (BadHeaderError, UnicodeError) as exc:
        return type(exc).__name__, list(response.items())
    return list(response.items())


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("response_class", [ProxyResponse, StreamingProxyResponse])
def test_a_batch_ends_as_djangos_line_by_line(response_class, batch):
    assert outcome(response_class, batch, True) == outcome(response_class, batch, False)


@pytest.mark.parametrize("batch", [batch for batch in BATCHES if "stolen=1" in str(batch)])
def test_a_line_break_in_a_batch_is_refused_and_never_stored(batch):
    response = ProxyResponse(b"")
    with pytest.raises(BadHeaderError):
        response.set_headers(batch)
    assert "stolen" not in str(list(response.items()))


@pytest.mark.parametrize("response_class", [ProxyResponse, StreamingProxyResponse])
def test_items_are_djangos_lines_then_the_repeated_ones(response_class):
    response = response_class(b"") if response_class is ProxyResponse else response_class([])
    response.set_headers([("X-A", "1"), ("x-B", "caf\u00e9"), ("x-a", "2")])
    response["Vary"] = "Origin"
    response.add_repeated_header("Set-Cookie", "a=1")
    response.add_repeated_header("Set-Cookie", "b=2")
    django_lines = list(HttpResponseBase.items(response))
    assert django_lines[-3:] == [("x-a", "2"), ("x-B", "café"), ("Vary", "Origin")]
    assert response.items() == [*django_lines, ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
