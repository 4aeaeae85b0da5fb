"""The upstream HTTP client: one pooled requests.Session per worker, retries and timeouts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy

import requests

from proxy.balancer import Balancer, Target
from proxy.connections import IDEMPOTENT_METHODS, UpstreamAdapter, UpstreamAddressDenied
from proxy.outgoing import OutgoingRequest

logger = logging.getLogger(__name__)


class UpstreamUnavailable(Exception):
    """No target could be reached (502)."""


class UpstreamTimeout(Exception):
    """The upstream did not answer in time (504)."""


class TargetSkipped(Exception):
    """Raised by a request builder for a target that cannot serve the request (e.g. not its
    model): the send loop moves on to the next target without counting a failure."""


def _new_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy/netrc lookups per request
    session.headers.clear()  # send the client's headers, not python-requests defaults
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # never share cookies
    adapter = UpstreamAdapter(
        pool_connections=64, pool_maxsize=512, max_retries=0, pool_block=False
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


SESSION = _new_session()


def failure_reason(exc: requests.RequestException) -> str:
    """What went wrong, without the request URL: its query may carry injected credentials."""
    cause = exc.args[0] if exc.args else exc
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real error
    return (
        f"{type(cause).__name__}: {cause}" if isinstance(cause, Exception) else type(exc).__name__
    )


def _send_once(outgoing: OutgoingRequest) -> requests.Response:
    """One request through the session's pooled adapter, without the session's per-request
    merging (environment, cookies, hooks, redirects): a proxy forwards exactly what it built.
    See "What the profile changed" in bench/README.md."""
    prepared = requests.PreparedRequest()
    prepared.prepare(
        method=outgoing.method,
        url=outgoing.url,
        headers=outgoing.headers,
        data=outgoing.body or None,
    )
    return SESSION.get_adapter(outgoing.url).send(prepared, stream=True, timeout=outgoing.timeouts)


@dataclass
class UpstreamResult:
    """The upstream's answer, its body still unread; `close()` once done with it."""

    response: requests.Response
    target: Target
    elapsed_ms: float
    balancer: Balancer
    closed: bool = False

    def close(self) -> None:
        """Close the upstream response and stop counting it in flight (least-conn)."""
        if not self.closed:
            self.closed = True
            self.response.close()
            self.balancer.released(self.target)


def falls_back(target: Target, status: int) -> bool:
    """An LLM provider's 429 or 5xx (nothing sent to the client yet): try the next target."""
    return bool(target.provider) and (status == 429 or status >= 500)


def send(
    balancer: Balancer, targets: Sequence[Target], build: Callable[[Target], OutgoingRequest]
) -> UpstreamResult:
    """Send to `targets` in turn (`Balancer.attempts`), `build(target)` giving each attempt's
    request (TargetSkipped: that target cannot serve it). Connection errors move on for any
    method, read timeouts for idempotent methods and LLM providers, a provider's 429/5xx too
    (the last attempt's answer is returned as it is). The response body is left unread."""
    last_error: Exception | None = None
    for attempt, target in enumerate(targets, start=1):
        try:
            outgoing = build(target)
        except TargetSkipped:
            continue
        balancer.started(target)
        started = time.perf_counter()
        try:
            response = _send_once(outgoing)
        except requests.exceptions.ConnectionError as exc:
            balancer.failed(target)
            _log_failure(target, attempt, len(targets), f"unreachable: {failure_reason(exc)}")
            last_error = exc
            continue
        except UpstreamAddressDenied:
            balancer.released(target)  # never tried: not a failure of the target
            logger.warning("upstream %s refused: address denied", target.base_url)
            raise
        except requests.exceptions.Timeout as exc:
            balancer.failed(target)
            _log_failure(target, attempt, len(targets), "timed out")
            retryable = outgoing.method in IDEMPOTENT_METHODS or target.provider
            if not retryable or attempt == len(targets):
                raise UpstreamTimeout(failure_reason(exc)) from exc
            last_error = exc
            continue
        if falls_back(target, response.status_code):
            balancer.record_failure(target)
            if attempt < len(targets):
                _log_failure(target, attempt, len(targets), f"answered {response.status_code}")
                response.close()
                balancer.released(target)
                continue
        elapsed_ms = (time.perf_counter() - started) * 1000
        return UpstreamResult(response, target, elapsed_ms, balancer)
    if last_error is None:
        raise UpstreamUnavailable("no target to try")
    if isinstance(last_error, requests.exceptions.Timeout):
        raise UpstreamTimeout(failure_reason(last_error))
    raise UpstreamUnavailable(failure_reason(last_error))


def _log_failure(target: Target, attempt: int, attempts: int, what: str) -> None:
    logger.warning("upstream %s %s (attempt %d/%d)", target.base_url, what, attempt, attempts)
