"""Load balancing over an upstream's targets, with passive health (failing targets cool down)."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from observability.metrics import target_health


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


@dataclass
class TargetHealth:
    failures: int = 0
    unhealthy_until: float = 0.0
    in_flight: int = 0


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


class Balancer:
    """Orders targets per request by algorithm; unhealthy targets go last, not away."""

    def __init__(self, targets: Sequence[Target], algorithm: str, health: dict[str, Any]) -> None:
        self.targets = tuple(targets)
        self.algorithm = algorithm
        self.passive = bool(health.get("passive", True))
        self.threshold = int(health.get("threshold", 3))
        self.cooldown = float(health.get("interval", 10))
        self.health = {target.key: TargetHealth() for target in self.targets}
        self._counter = itertools.count()
        weights = [max(target.weight, 0) for target in self.targets]
        if not any(weights):
            weights = [1] * len(self.targets)
        self.weights = weights
        self._weighted_cycle = smooth_weighted_order(_reduced(weights))

    def candidates(self) -> list[Target]:
        """Targets to try for one request, best first."""
        ordered = [self.targets[i] for i in self._order()]
        now = time.monotonic()
        healthy = [t for t in ordered if self.health[t.key].unhealthy_until <= now]
        return healthy + [t for t in ordered if t not in healthy]

    def _order(self) -> list[int]:
        count = len(self.targets)
        if count == 1:
            return [0]
        if self.algorithm == "least-conn":
            start = next(self._counter)
            rotated = [(start + i) % count for i in range(count)]
            return sorted(rotated, key=lambda i: self.health[self.targets[i].key].in_flight)
        if self.algorithm == "random":
            return _weighted_shuffle(self.weights)
        if self.algorithm == "weighted-round-robin":
            first = self._weighted_cycle[next(self._counter) % len(self._weighted_cycle)]
        else:
            first = next(self._counter) % count
        return [first] + [i for i in range(count) if i != first]

    def started(self, target: Target) -> None:
        """A request goes to `target`: in flight until `released`."""
        self.health[target.key].in_flight += 1

    def released(self, target: Target) -> None:
        """The request's exchange with `target` is over (its whole body, for streams)."""
        state = self.health[target.key]
        state.in_flight = max(state.in_flight - 1, 0)

    def failed(self, target: Target) -> None:
        """The request to `target` got no answer: a failure, and no longer in flight."""
        self.record(target, ok=False)
        self.released(target)

    def record(self, target: Target, *, ok: bool) -> None:
        """Passive health: `threshold` failures in a row take the target out for `interval`."""
        state = self.health[target.key]
        if ok:
            state.failures = 0
        else:
            state.failures += 1
            if self.passive and state.failures >= self.threshold:
                state.unhealthy_until = time.monotonic() + self.cooldown
                state.failures = 0
        target_health(target.key, target.base_url, state.unhealthy_until <= time.monotonic())

    def iter_attempts(self, attempts: int) -> Iterator[Target]:
        """Up to `attempts` targets, cycling through the candidates."""
        candidates = self.candidates()
        for index in range(attempts):
            yield candidates[index % len(candidates)]


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
