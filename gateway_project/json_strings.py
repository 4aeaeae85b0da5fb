"""One walk over the strings of a parsed JSON document: read them, with or without where they
sit, or rebuild the document with each one replaced."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# Where a string sits in a document: its keys and list indexes from the root.
Path = tuple[str | int, ...]


def iter_strings(value: Any, *, keys: bool = False) -> Iterator[str]:
    """Every string value of `value`, depth first; with `keys`, each object key too, just
    before its value's strings."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                yield key
            yield from iter_strings(item, keys=keys)
    elif isinstance(value, list):
        for item in value:
            yield from iter_strings(item, keys=keys)


def located_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every string value of `value` with its path (`path` is where `value` itself sits)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from located_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from located_strings(item, (*path, index))


def map_strings(value: Any, replace: Callable[[str], str], *, keys: bool = False) -> Any:
    """A copy of `value` with every string value (with `keys`, every object key too, each
    replaced before its value) as `replace` returns it; structure and other values kept."""
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, dict):
        if keys:
            return {
                replace(key): map_strings(item, replace, keys=True) for key, item in value.items()
            }
        return {key: map_strings(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, replace, keys=keys) for item in value]
    return value
