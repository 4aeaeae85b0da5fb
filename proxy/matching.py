"""Match a request to the most specific rule of a snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteMatch:
    route: Any
    params: dict[str, str]
    rest: str


class MethodNotAllowed(Exception):
    def __init__(self, allowed: Sequence[str]) -> None:
        super().__init__("method not allowed")
        self.allowed = sorted(set(allowed))


def match_route(routes: Sequence[Any], path: str, method: str) -> RouteMatch | None:
    """The most specific route (with `.pattern` and `.methods`) for path and method.

    `routes` must be sorted by descending specificity. Raises MethodNotAllowed when the
    path matches routes but none accepts the method.
    """
    allowed: list[str] = []
    for route in routes:
        found = route.pattern.match(path)
        if found is None:
            continue
        if method in route.methods:
            return RouteMatch(route, found[0], found[1])
        allowed.extend(route.methods)
    if allowed:
        raise MethodNotAllowed(allowed)
    return None
