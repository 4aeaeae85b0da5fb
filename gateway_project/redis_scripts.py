"""Lua scripts on the process's Redis in one round trip: EVALSHA written and read on connections
held here, without redis-py's per-command machinery (retry, events, metrics, pool checks)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import redis
from redis.exceptions import NoScriptError
from redis.utils import HIREDIS_AVAILABLE

from gateway_project.redis_client import redis_client

if HIREDIS_AVAILABLE:
    import hiredis


class HeldConnections:
    """Connections of one client's pool that this module keeps for itself, idle ones in a list.

    One is taken per call and given back after it, so a greenlet never shares one with
    another; a fork (the held ones belong to the parent) or a new client starts a fresh list.
    """

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.pid = os.getpid()
        self.idle: list[Any] = []

    def take(self) -> tuple[Any, bool]:
        """An idle connection and True, or a new one from the pool (connected) and False."""
        try:
            return self.idle.pop(), True
        except IndexError:
            return self.client.connection_pool.get_connection(), False

    def give(self, connection: Any) -> None:
        self.idle.append(connection)

    def drop(self, connection: Any) -> None:
        """A connection that failed mid-call: closed (a reply half read must never answer the
        next call) and handed back to the pool."""
        connection.disconnect()
        self.client.connection_pool.release(connection)


_held: HeldConnections | None = None


def held_connections(client: redis.Redis) -> HeldConnections:
    global _held
    held = _held
    if held is None or held.client is not client or held.pid != os.getpid():
        held = _held = HeldConnections(client)
    return held


class RedisScript:
    """A Lua script called with EVALSHA in one round trip (`SCRIPT LOAD` then again when Redis
    answers NOSCRIPT, after a restart or `SCRIPT FLUSH`).

    On a Redis Cluster client the call goes through redis-py's script object, which routes it
    to the node of its keys' slot. On a single node it is written on a held connection and its
    reply read with the connection's parser, under the pool's socket timeouts. A held
    connection that Redis closed while idle (a restart) answers the next call with
    ConnectionError; the call is sent once more on a new connection, as the pool's check of a
    connection it hands out would have done. Errors are redis-py's, raised as they come.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self.head = (b"EVALSHA", self.sha.encode())
        self._cluster_script: Any = None

    def __call__(self, keys: list[str], args: list[Any]) -> Any:
        client = redis_client()
        if not isinstance(client, redis.Redis):
            return self._through_redis_py(client, keys, args)
        held = held_connections(client)
        connection, reused = held.take()
        try:
            command = self.pack(connection, keys, args)
            try:
                reply = self._evalsha(connection, command)
            except redis.ConnectionError:
                if not reused:
                    raise
                connection.disconnect()  # closed while idle: the next send reconnects
                reply = self._evalsha(connection, command)
        except redis.ResponseError:
            held.give(connection)  # an error reply, read whole: the connection stays in step
            raise
        except BaseException:
            held.drop(connection)
            raise
        held.give(connection)
        return reply

    def pack(self, connection: Any, keys: list[str], args: list[Any]) -> list[bytes]:
        """The EVALSHA command in Redis's protocol (by hiredis in C when it is installed)."""
        if HIREDIS_AVAILABLE:
            return [hiredis.pack_command((*self.head, len(keys), *keys, *args))]
        return connection.pack_command(*self.head, len(keys), *keys, *args)

    def _evalsha(self, connection: Any, command: list[bytes]) -> Any:
        connection.send_packed_command(command, check_health=False)
        try:
            return connection.read_response()
        except NoScriptError:
            connection.send_command("SCRIPT", "LOAD", self.source, check_health=False)
            connection.read_response()
            connection.send_packed_command(command, check_health=False)
            return connection.read_response()

    def _through_redis_py(self, client: Any, keys: list[str], args: list[Any]) -> Any:
        script = self._cluster_script
        if script is None or script.registered_client is not client:
            script = self._cluster_script = client.register_script(self.source)
        return script(keys=keys, args=args)
