"""Resilient retries: Retry-After read from answers, backoff with jitter, a retry budget."""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER = 600.0  # seconds a target is rested for at most, whatever it asks
MAX_WAIT = 5.0  # seconds a request waits for a resting target at most (else it answers 503)
BACKOFF_BASE = 0.05  # seconds: the first retry of a target already tried waits up to this
BACKOFF_CAP = 1.0
BUDGET_RATIO = 0.2  # retries an upstream may add to its requests (Envoy's retry budget)
BUDGET_MIN = 10.0  # retries always allowed within a window, however few the requests
BUDGET_WINDOW = 10.0  # seconds: the time constant of the counts the budget compares
RESTING_STATUSES = frozenset({429, 503})


def retry_after(status: int, value: str | None) -> float | None:
    """The seconds a 429 or 503 answer asks to wait (delta-seconds or an HTTP date), at most
    MAX_RETRY_AFTER; None for other answers or a missing or unreadable value."""
    if status not in RESTING_STATUSES or not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return min(seconds, MAX_RETRY_AFTER) if seconds > 0 else None


def backoff(repeat: int) -> float:
    """Full jitter: a random pause before the `repeat`-th new attempt on a target this request
    already tried (1 for the first), at most BACKOFF_CAP."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (repeat - 1)))


class RetryBudget:
    """Retries allowed while they stay within BUDGET_RATIO of the requests (at least BUDGET_MIN),
    both counted with an exponential decay over BUDGET_WINDOW seconds. Per upstream, per
    process: a failing provider's load grows by at most about a fifth, not by the retry count."""

    def __init__(self) -> None:
        self.requests = 0.0
        self.retries = 0.0
        self._at = time.monotonic()

    def _decay(self) -> None:
        now = time.monotonic()
        factor = math.exp(-(now - self._at) / BUDGET_WINDOW)
        self.requests *= factor
        self.retries *= factor
        self._at = now

    def request(self) -> None:
        """A request's first attempt."""
        self._decay()
        self.requests += 1

    def allow_retry(self) -> bool:
        """Whether one more attempt fits the budget (counted when it does)."""
        self._decay()
        if self.retries + 1 > max(BUDGET_MIN, BUDGET_RATIO * self.requests):
            return False
        self.retries += 1
        return True
