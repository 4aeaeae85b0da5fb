"""Which MCP tools a key may list and call: exact names and `*` globs, deny by default."""

from __future__ import annotations

from fnmatch import fnmatchcase


def tool_allowed(name: str, allowed: tuple[str, ...] | None) -> bool:
    """None allows every tool; a list only the names it matches (`*` matches any run of
    characters; no other glob syntax: `?` and `[` match themselves)."""
    if allowed is None:
        return True
    return any(_matches(name, pattern) for pattern in allowed)


def tool_allowed_by(name: str, lists: tuple[tuple[str, ...] | None, ...]) -> bool:
    """Allowed by every list set (the gateway's, the rule's, the key's): each one that is set
    denies the tools it does not match."""
    return all(tool_allowed(name, allowed) for allowed in lists)


def _matches(name: str, pattern: str) -> bool:
    if "*" not in pattern:
        return name == pattern
    escaped = pattern.replace("[", "[[]").replace("?", "[?]")
    return fnmatchcase(name, escaped)
