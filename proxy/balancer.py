"""Load balancing over an upstream's targets: priority levels, weights, latency, shared health."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from observability.metrics import target_health
from proxy.health import SharedHealth
from proxy.latency import SharedLatency
from proxy.llm.usage import Pricing
from proxy.oauth2 import OAuthClient
from proxy.rests import TargetRests
from proxy.retries import RetryBudget
from proxy.transports import Transport


@dataclass(frozen=True)
class Target:
    """Where a request can go: a base URL plus the target's path, headers and credentials."""

    key: str
    base_url: str
    path: str = ""
    weight: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)
    provider: str = ""
    models: tuple[str, ...] = ()
    default_model: str = ""
    priority: int = 0
    pricing: Pricing | None = None
    index: int = 0  # position in its upstream
    # Provider targets: the lower-case names of the client headers they receive (no others).
    client_headers: frozenset[str] = frozenset()
    transport: Transport | None = None  # its upstream's egress proxy and client TLS
    oauth: OAuthClient | None = None  # OAuth2 client credentials (a Bearer token)


def smooth_weighted_order(weights: Sequence[int]) -> list[int]:
    """One cycle of nginx's smooth weighted round-robin: indices spread by weight."""
    current = [0] * len(weights)
    total = sum(weights)
    order = []
    for _ in range(total):
        for index, weight in enumerate(weights):
            current[index] += weight
        best = max(range(len(weights)), key=lambda i: current[i])
        current[best] -= total
        order.append(best)
    return order


class Level:
    """The targets of one priority, ordered per request by the upstream's algorithm."""

    def __init__(
        self, targets: Sequence[Target], algorithm: str, latency: SharedLatency | None = None
    ) -> None:
        self.targets = tuple(targets)
        self.algorithm = algorithm
        self.latency = latency
        self._counter = itertools.count()
        weights = [max(target.weight, 0) for target in self.targets]
        self.weights = weights if any(weights) else [1] * len(self.targets)
        self._weighted_cycle = smooth_weighted_order(_reduced(self.weights))

    def order(self, in_flight: Sequence[int]) -> list[Target]:
        count = len(self.targets)
        if count == 1:
            return list(self.targets)
        if self.algorithm == "least-conn":
            start = next(self._counter)
            rotated = [(start + i) % count for i in range(count)]
            indices = sorted(rotated, key=lambda i: in_flight[self.targets[i].index])
        elif self.algorithm == "random":
            indices = _weighted_shuffle(self.weights)
        elif self.algorithm == "least-latency" and self.latency is not None:
            indices = self._two_choices(count)
        else:
            if self.algorithm == "weighted-round-robin":
                first = self._weighted_cycle[next(self._counter) % len(self._weighted_cycle)]
            else:
                first = next(self._counter) % count
            indices = [first] + [i for i in range(count) if i != first]
        return [self.targets[i] for i in indices]

    def _two_choices(self, count: int) -> list[int]:
        """Power of two choices: of two targets drawn at random (weight above 0), the one
        expected to answer first; then the others, the expected fastest first."""
        estimate = self.latency.estimate  # type: ignore[union-attr]
        weighted = [i for i in range(count) if self.weights[i] > 0]  # weight 0: a last resort
        drawn = random.sample(weighted, 2) if len(weighted) > 1 else weighted
        pair = sorted(drawn, key=lambda i: estimate(self.targets[i].index))
        rest = sorted(
            (i for i in range(count) if i not in pair),
            key=lambda i: (self.weights[i] == 0, estimate(self.targets[i].index)),
        )
        return pair + rest


class Balancer:
    """Orders targets per request: the lowest priority first, by the algorithm within it;
    targets cooling down go last, not away; targets failing their active probes are left out
    while another is left, and targets resting after a Retry-After come last of all. Health is
    shared through Redis (see SharedHealth) when there is more than one target to choose from;
    so are the latencies of `least-latency`. A single target's Retry-After is shared too, kept
    in memory (see TargetRests)."""

    def __init__(
        self,
        targets: Sequence[Target],
        algorithm: str,
        health: dict[str, Any],
        scope: str = "",
    ) -> None:
        self.targets = tuple(targets)
        self.algorithm = algorithm
        self.scope = scope
        shared = bool(scope) and len(self.targets) > 1
        self.latency: SharedLatency | None = None
        if shared and algorithm == "least-latency":
            self.latency = SharedLatency(scope, len(self.targets))
        priorities = sorted({target.priority for target in self.targets})
        self.levels = [
            Level([t for t in self.targets if t.priority == p], algorithm, self.latency)
            for p in priorities
        ]
        self.in_flight = [0] * len(self.targets)
        self.budget = RetryBudget()
        self.health: SharedHealth | None = None
        self.rests: TargetRests | None = None
        self._reported_down: frozenset[int] | None = None
        if shared:  # a Retry-After rests a target whatever the checks (see SharedHealth)
            interval = float(health.get("interval", 10))
            self.health = SharedHealth(
                scope,
                len(self.targets),
                threshold=int(health.get("threshold", 3)),
                window=interval,
                cooldown=interval,
                passive=bool(health.get("passive", True)),
            )
        elif scope:  # one target: nothing to choose, but its Retry-After is honoured
            self.rests = TargetRests(scope, len(self.targets))
        self.serves_llm = any(target.provider for target in self.targets)

    def candidates(self, model: str | None = None) -> list[Target]:
        """Targets to try for one request, best first: healthy before cooling down, then
        (for an LLM request) those serving `model` before the others, then by priority."""
        if len(self.targets) == 1:
            return list(self.targets)
        if self.latency is not None:
            self.latency.sync()
        ordered = [t for level in self.levels for t in level.order(self.in_flight)]
        if self.health is None:
            down, probed, waits = frozenset(), frozenset(), {}
        else:
            down, waits = self._down(), self.health.waits()
            probed = self.health.probed_down() if down else frozenset()  # probed is in down
        if probed and len(probed) < len(ordered):
            ordered = [t for t in ordered if t.index not in probed]
        if not down and not waits and model is None:
            return ordered
        return sorted(  # stable: priority and the algorithm's order kept within each group
            ordered,
            key=lambda t: (
                waits.get(t.index, 0.0),
                t.index in down,
                model is not None and model not in t.models,
            ),
        )

    def _down(self) -> frozenset[int]:
        """The targets cooling down; the health gauge follows each change."""
        down = self.health.down()
        if down != self._reported_down:
            self._reported_down = down
            for target in self.targets:
                target_health(target.key, target.index not in down)
        return down

    def attempts(self, retry_attempts: int, model: str | None = None) -> list[Target]:
        """The targets one request tries, in order: `retry_attempts + 1` of them, cycling
        through the candidates; for LLM upstreams at least every target once (fallback)."""
        candidates = self.candidates(model)
        count = retry_attempts + 1
        if self.serves_llm:
            count = max(count, len(candidates))
        return [candidates[i % len(candidates)] for i in range(count)]

    def started(self, target: Target) -> None:
        """A request goes to `target`: in flight until `released`."""
        self.in_flight[target.index] += 1

    def released(self, target: Target) -> None:
        """The request's exchange with `target` is over (its whole body, for streams)."""
        self.in_flight[target.index] = max(self.in_flight[target.index] - 1, 0)

    def failed(self, target: Target) -> None:
        """The request to `target` failed: a failure for passive health, no longer in flight."""
        self.record_failure(target)
        self.released(target)

    def record_failure(self, target: Target) -> None:
        """One failure of `target` for passive health (nothing when health checks are off)."""
        if self.health is not None:
            self.health.failed(target.index)

    def rest(self, target: Target, seconds: float) -> None:
        """`target` asked (Retry-After) not to be called for `seconds`: by no process."""
        if self.health is not None:
            self.health.wait(target.index, seconds)
        elif self.rests is not None:
            self.rests.rest(target.index, seconds)

    def wait_left(self, target: Target) -> float:
        """Seconds before `target` may be called again (0 when it is not resting)."""
        if self.health is not None:
            until = self.health.waits().get(target.index)
        elif self.rests is not None:
            until = self.rests.until(target.index)
        else:
            return 0.0
        return max(until - time.time(), 0.0) if until else 0.0

    def answered(self, target: Target, milliseconds: float) -> None:
        """`target` began its answer after `milliseconds` (least-latency's sample)."""
        if self.latency is not None:
            self.latency.record(target.index, milliseconds)


def _reduced(weights: list[int]) -> list[int]:
    from math import gcd

    divisor = 0
    for weight in weights:
        divisor = gcd(divisor, weight)
    return [weight // (divisor or 1) for weight in weights]


def _weighted_shuffle(weights: Sequence[int]) -> list[int]:
    """Indices ordered by weighted sampling without replacement."""
    keys = [(random.random() ** (1.0 / w) if w > 0 else 0.0, i) for i, w in enumerate(weights)]
    return [i for _, i in sorted(keys, reverse=True)]
