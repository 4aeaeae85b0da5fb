"""The gateway's MCP sessions in Redis: each maps to one session per server, and to the key
that opened it, so any worker or node continues it."""

from __future__ import annotations

import secrets

from gateway_project.redis_client import redis_client

TTL_SECONDS = 3600  # idle sessions expire; each use extends them
KEY_FIELD = "key"


def _name(gateway_id: str, session_id: str) -> str:
    return f"mcp:{{{gateway_id}}}:{session_id}"


def session_open(*, gateway_id: str, api_key_id: str | None, servers: list[str]) -> str:
    """A new session id, mapping to the servers' session ids (in server order)."""
    session_id = secrets.token_urlsafe(24)
    name = _name(gateway_id, session_id)
    fields = {str(index): value for index, value in enumerate(servers)}
    fields[KEY_FIELD] = api_key_id or ""
    pipe = redis_client().pipeline()
    pipe.hset(name, mapping=fields)
    pipe.expire(name, TTL_SECONDS)
    pipe.execute()
    return session_id


def session_servers(
    *, gateway_id: str, api_key_id: str | None, session_id: str
) -> list[str] | None:
    """The servers' session ids of a live session opened with the same key, else None."""
    name = _name(gateway_id, session_id)
    pipe = redis_client().pipeline()
    pipe.hgetall(name)
    pipe.expire(name, TTL_SECONDS)
    fields, _ = pipe.execute()
    if not fields or fields.pop(b"key", b"").decode() != (api_key_id or ""):
        return None
    return [fields[key].decode() for key in sorted(fields, key=int)]


def session_close(*, gateway_id: str, session_id: str) -> None:
    redis_client().delete(_name(gateway_id, session_id))
