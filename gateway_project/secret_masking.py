"""Write-only plugin settings: values at a plugin's `secret_settings` paths are shown as a mask
in the admin API and the Django admin, and a mask sent back keeps the stored value.

A path is dotted (`credentials.aws_secret_access_key`); `*` stands for every key of an object
or every item of a list (`headers.*`, `query_params.*.value`)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from rest_framework import serializers

MASK = "********"  # the mask upstream credentials are shown with too

Location = tuple[str | int, ...]


def _locations(value: Any, steps: Sequence[str], where: Location = ()) -> Iterator[Location]:
    """Where the path `steps` leads in `value` (every match of a `*`)."""
    if not steps:
        yield where
        return
    step, rest = steps[0], steps[1:]
    if isinstance(value, Mapping):
        keys = list(value) if step == "*" else [step] if step in value else []
        for key in keys:
            yield from _locations(value[key], rest, (*where, key))
    elif isinstance(value, list) and step == "*":
        for index, item in enumerate(value):
            yield from _locations(item, rest, (*where, index))


def _get(value: Any, location: Location) -> Any:
    for step in location:
        value = value[step]
    return value


def _set(value: Any, location: Location, item: Any) -> None:
    _get(value, location[:-1])[location[-1]] = item


def secret_locations(paths: Sequence[str], settings: Any) -> list[Location]:
    """Every location of a non-empty secret in `settings`."""
    found = [loc for path in paths for loc in _locations(settings, path.split("."))]
    return [loc for loc in found if _get(settings, loc) not in (None, "")]


def masked_settings(paths: Sequence[str], settings: Any) -> Any:
    """A copy of `settings` with every secret shown as MASK."""
    locations = secret_locations(paths, settings)
    if not locations:
        return settings
    shown = copy.deepcopy(settings)
    for location in locations:
        _set(shown, location, MASK)
    return shown


def restored_settings(paths: Sequence[str], settings: Any, stored: Any) -> Any:
    """`settings` where each secret sent as MASK takes the stored value at the same place; a
    mask with no stored secret behind it is a 400 naming its path (stored, it would be sent
    to the service as the secret)."""
    masked = [loc for loc in secret_locations(paths, settings) if _get(settings, loc) == MASK]
    if not masked:
        return settings
    restored, errors = copy.deepcopy(settings), {}
    for location in masked:
        try:
            previous = _get(stored, location)
        except (KeyError, IndexError, TypeError):
            previous = None
        if isinstance(previous, str) and previous and previous != MASK:
            _set(restored, location, previous)
        else:
            name = ".".join(str(step) for step in location)
            errors[name] = [f"{MASK!r} is the mask of a stored secret; send the secret itself."]
    if errors:
        raise serializers.ValidationError(errors)
    return restored
