"""Write-only plugin settings (`Plugin.secret_settings`): the admin API and the Django admin
show them as a mask; a mask sent back keeps the stored secret, as upstream credentials do."""

from __future__ import annotations

import copy
from typing import Any

from plugins.registry import registry

MASK = "********"  # upstream credentials (gateways.targets) show the same mask
MASK_REFUSED = f"{MASK!r} is the mask of a stored secret; send the secret itself."


def _paths(name: Any) -> list[list[str]]:
    plugin_class = registry.get(name) if isinstance(name, str) else None
    return [path.split(".") for path in plugin_class.secret_settings] if plugin_class else []


def _parent(settings: Any, path: list[str]) -> dict[str, Any] | None:
    for key in path[:-1]:
        settings = settings.get(key) if isinstance(settings, dict) else None
    return settings if isinstance(settings, dict) else None


def masked_settings(name: Any, settings: Any) -> Any:
    """`settings` of plugin `name` with each secret that is set shown as MASK."""
    paths = _paths(name)
    if not paths or not isinstance(settings, dict):
        return settings
    shown = copy.deepcopy(settings)
    for path in paths:
        parent = _parent(shown, path)
        if parent is not None and parent.get(path[-1]):
            parent[path[-1]] = MASK
    return shown


def restore_masked_settings(name: Any, settings: Any, stored: Any) -> tuple[Any, dict[str, Any]]:
    """Raw `settings` with each secret sent as MASK replaced by the `stored` one; the errors
    (nested by path) of masks with no stored secret behind them."""
    paths = _paths(name)
    if not paths or not isinstance(settings, dict):
        return settings, {}
    restored, errors = copy.deepcopy(settings), {}
    for path in paths:
        parent = _parent(restored, path)
        if parent is None or parent.get(path[-1]) != MASK:
            continue
        previous = _parent(stored, path)
        if previous is not None and previous.get(path[-1]):
            parent[path[-1]] = previous[path[-1]]
            continue
        node = errors
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = [MASK_REFUSED]
    return restored, errors


def stored_counterpart(item: dict[str, Any], stored: list[Any]) -> Any:
    """The stored settings of the plugin `item` stands for: the same name and stage, else the
    only stored plugin of that name."""
    same = [row for row in stored if row.name == item.get("name")]
    staged = [row for row in same if row.stage == item.get("stage")]
    row = staged[0] if staged else same[0] if len(same) == 1 else None
    return row.settings if row is not None else None
