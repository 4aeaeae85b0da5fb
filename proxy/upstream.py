"""The upstream HTTP client: proxy.http1 (urllib3 pools via egress proxies), retries, timeouts."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from http.client import HTTPException
from typing import Any

from urllib3 import BaseHTTPResponse, HTTPConnectionPool, Retry, Timeout
from urllib3.exceptions import (
    ClosedPoolError,
    MaxRetryError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.util import Url, parse_url

from plugins.sdk.tracing import Trace
from proxy import http1
from proxy.balancer import Balancer, Target
from proxy.connections import IDEMPOTENT_METHODS, UpstreamAddressDenied, new_pool_manager
from proxy.http1.response import Http1Response
from proxy.oauth2 import TokenUnavailable, forget_token
from proxy.outgoing import OutgoingRequest
from proxy.retries import MAX_WAIT, backoff, retry_after
from proxy.transports import Transport, manager_of, tls_of

logger = logging.getLogger(__name__)

POOLS = new_pool_manager()
# Connection failures come out as MaxRetryError, read failures (timeouts, a broken answer) as
# they are; the send loop below decides what to try next.
NO_RETRIES = Retry(0, read=False)
# The target could not be reached, or its connection broke before an answer (a read timeout
# is not among these: see send()).
UNREACHABLE = (MaxRetryError, ProtocolError, SSLError, ClosedPoolError)
BODILESS_METHODS = frozenset({"GET", "HEAD"})
MAX_CACHED_POOLS = 256
_POOL_OF: dict[tuple[str | None, str | None, int | None, str], HTTPConnectionPool] = {}


class UpstreamUnavailable(Exception):
    """No target could be reached (502)."""


class UpstreamTimeout(Exception):
    """The upstream did not answer in time (504)."""


class UpstreamBusy(Exception):
    """The only targets left rest for longer than MAX_WAIT after their Retry-After (503)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"upstream resting for {seconds:.1f} s")
        self.retry_after = max(math.ceil(seconds), 1)


def failure_reason(exc: Exception) -> str:
    """What went wrong, without the request URL: its query may carry injected credentials
    (MaxRetryError names the URL; the error it wraps does not)."""
    cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
    return f"{type(cause).__name__}: {cause}"


@lru_cache(maxsize=64)
def _timeout(timeouts: tuple[float, float]) -> Timeout:
    return Timeout(connect=timeouts[0], read=timeouts[1])


def _send_once(outgoing: OutgoingRequest, transport: Transport | None = None) -> BaseHTTPResponse:
    """One request, exactly as built, its body left unread and undecoded: to an upstream reached
    directly (its client TLS, if any) through proxy.http1 (httptools), through an egress proxy
    by the urllib3 pool of its scheme, host, port and transport (see "What the profile changed"
    in bench/README.md), an http request then naming its absolute URL."""
    url = _parsed(outgoing.url)
    if transport is None or transport.proxy_url is None:
        tls = None if transport is None else (transport.key, tls_of(transport))
        headers = _with_length(outgoing)
        return http1.send(
            outgoing.method, url, outgoing.url, headers, outgoing.body, outgoing.timeouts, tls
        )
    pool = _pool(url.scheme, url.host, url.port, transport)
    forwarded = pool.proxy is not None and url.scheme == "http"
    return pool.urlopen(
        outgoing.method,
        outgoing.url if forwarded else url.request_uri,
        body=outgoing.body or None,
        headers=_with_length(outgoing),
        retries=NO_RETRIES,
        redirect=False,
        assert_same_host=False,
        timeout=_timeout(outgoing.timeouts),
        preload_content=False,
        decode_content=False,
    )


@lru_cache(maxsize=1024)
def _parsed(url: str) -> Url:
    """A URL's parts, parsed once per distinct URL (a provider's is the same for every call)."""
    return parse_url(url)


def _pool(
    scheme: str | None, host: str | None, port: int | None, transport: Transport | None = None
) -> HTTPConnectionPool:
    """The pool of an origin, looked up in POOLS (or the transport's pools) once: its key
    building is a cost per request. (POOLS forgets, without closing, the least recently used
    of more than num_pools origins; a pool kept here goes on serving its origin.)"""
    key = (scheme, host, port, transport.key if transport is not None else "")
    pool = _POOL_OF.get(key)
    if pool is None:
        if len(_POOL_OF) >= MAX_CACHED_POOLS:
            _POOL_OF.clear()
        manager = POOLS if transport is None else manager_of(transport)
        pool = _POOL_OF[key] = manager.connection_from_host(host, port, scheme)
    return pool


def _with_length(outgoing: OutgoingRequest) -> Mapping[str, str]:
    """The headers with the body's own Content-Length (plugins may have changed the body since
    the client declared one); none for a bodiless GET or HEAD, `0` for other methods."""
    headers = outgoing.headers
    if outgoing.body:
        headers["Content-Length"] = str(len(outgoing.body))
    elif outgoing.method not in BODILESS_METHODS and "Content-Length" not in headers:
        headers["Content-Length"] = "0"
    return headers


@dataclass
class UpstreamResult:
    """The upstream's answer, its body still unread; `close()` once done with it."""

    response: BaseHTTPResponse  # proxy.http1's (or urllib3's through a proxy), body unread
    target: Target
    elapsed_ms: float
    balancer: Balancer
    closed: bool = False

    def close(self) -> None:
        """Close the upstream response and stop counting it in flight (least-conn)."""
        if not self.closed:
            self.closed = True
            discard(self.response)
            self.balancer.released(self.target)


def discard(response: BaseHTTPResponse) -> None:
    """Close an upstream response and give its connection slot back to the pool (a fully read
    body has already freed its connection)."""
    response.close()
    response.release_conn()


def falls_back(target: Target, status: int) -> bool:
    """An LLM provider's 429 or 5xx (nothing sent to the client yet): try the next target."""
    return bool(target.provider) and (status == 429 or status >= 500)


def body_started(response: BaseHTTPResponse) -> bool:
    """Whether the first byte of the body arrives within the read timeout (peeked, left unread;
    an empty body has begun). urllib3 reads through http.client's response, which peeks."""
    if isinstance(response, Http1Response):
        return response.body_started()
    peek = getattr(getattr(response, "_fp", None), "peek", None)
    if peek is None:  # not read through http.client: nothing to wait on here
        return True
    try:
        peek(1)
    except (OSError, HTTPException):  # TimeoutError included
        return False
    return True


def send(
    balancer: Balancer,
    targets: Sequence[Target],
    build: Callable[[Target], OutgoingRequest],
    trace: Trace | None = None,
) -> UpstreamResult:
    """Send to `targets` in turn (`Balancer.attempts`), `build(target)` giving each attempt's
    request. Connection errors move on for any method, read timeouts for idempotent methods and
    LLM providers, a provider's 429/5xx too (the last attempt's answer is returned as it is), any
    target's 429 or 503 with a Retry-After, and a provider's answer whose body does not begin
    within the read timeout when another target is left. The response body is left unread.

    Each further attempt must fit the upstream's retry budget. A target resting after its
    Retry-After is waited for up to MAX_WAIT (UpstreamBusy beyond); a target tried again
    in the same request is backed off from with jitter. A traced request gets a span per
    attempt."""
    last_error: Exception | None = None
    tried: set[int] = set()
    repeats = 0
    granted = True  # the budget allowed the next attempt (the first needs no leave)
    balancer.budget.request()
    for attempt, target in enumerate(targets, start=1):
        if not granted and not balancer.budget.allow_retry():
            logger.warning("upstream %s: retry budget spent", target.base_url)
            break
        granted = False
        if wait := balancer.wait_left(target):
            if wait > MAX_WAIT:
                raise UpstreamBusy(wait)
            time.sleep(wait)
        elif target.index in tried:
            repeats += 1
            time.sleep(backoff(repeats))
        tried.add(target.index)
        try:
            outgoing = build(target)
        except TokenUnavailable as exc:  # its OAuth2 token endpoint failed: as unreachable
            balancer.record_failure(target)
            _log_failure(target, attempt, len(targets), f"no OAuth2 token: {exc}")
            last_error = exc
            continue
        span = trace.attempt(target, attempt, outgoing) if trace is not None else None
        balancer.started(target)
        started = time.perf_counter()
        try:
            response = _send_once(outgoing, target.transport)
            if response.status == 401 and target.oauth is not None:
                response = _with_new_token(response, outgoing, target, build)
        except UNREACHABLE as exc:
            balancer.failed(target)
            _log_failure(target, attempt, len(targets), f"unreachable: {failure_reason(exc)}")
            _attempt_failed(span, type(getattr(exc, "reason", None) or exc).__name__)
            last_error = exc
            continue
        except UpstreamAddressDenied:
            balancer.released(target)  # never tried: not a failure of the target
            logger.warning("upstream %s refused: address denied", target.base_url)
            _attempt_failed(span, "address_denied")
            raise
        except ReadTimeoutError as exc:
            balancer.failed(target)
            _log_failure(target, attempt, len(targets), "timed out")
            _attempt_failed(span, "timeout")
            retryable = outgoing.method in IDEMPOTENT_METHODS or target.provider
            if not retryable or attempt == len(targets):
                raise UpstreamTimeout(failure_reason(exc)) from exc
            last_error = exc
            continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        rest = retry_after(response.status, response.headers.get("Retry-After"))
        if rest is not None:
            balancer.rest(target, rest)
        if falls_back(target, response.status) or rest is not None:
            balancer.record_failure(target)
            if attempt < len(targets) and balancer.budget.allow_retry():
                granted = True
                _log_failure(target, attempt, len(targets), f"answered {response.status}")
                _attempt_answered(span, response.status)
                discard(response)
                balancer.released(target)
                continue
        elif target.provider and attempt < len(targets) and not body_started(response):
            balancer.failed(target)  # nothing sent to the client yet: as a timeout before it
            _log_failure(target, attempt, len(targets), "sent no byte of its answer in time")
            _attempt_failed(span, "timeout")
            discard(response)
            last_error = ReadTimeoutError(None, outgoing.url, "no answer body in time")
            continue
        else:
            balancer.answered(target, elapsed_ms)
        _attempt_answered(span, response.status)
        return UpstreamResult(response, target, elapsed_ms, balancer)
    if last_error is None:
        raise UpstreamUnavailable("no target to try")
    if isinstance(last_error, ReadTimeoutError):
        raise UpstreamTimeout(failure_reason(last_error))
    raise UpstreamUnavailable(failure_reason(last_error))


def _with_new_token(
    response: BaseHTTPResponse,
    outgoing: OutgoingRequest,
    target: Target,
    build: Callable[[Target], OutgoingRequest],
) -> BaseHTTPResponse:
    """A target refused its OAuth2 token (401): the token is forgotten and the request sent
    once more with a new one; the 401 stands when no new token can be had."""
    forget_token(target.oauth, outgoing.headers.get("Authorization", ""))
    try:
        again = build(target)
    except TokenUnavailable:
        return response
    discard(response)
    return _send_once(again, target.transport)


def _log_failure(target: Target, attempt: int, attempts: int, what: str) -> None:
    logger.warning("upstream %s %s (attempt %d/%d)", target.base_url, what, attempt, attempts)


def _attempt_answered(span: Any, status: int) -> None:
    """End a traced attempt's span with the status the target answered (untraced: no span)."""
    if span is not None:
        span.answered(status)


def _attempt_failed(span: Any, error_type: str) -> None:
    """End a traced attempt's span with what went wrong (untraced: no span)."""
    if span is not None:
        span.failed(error_type)
