"""Lua scripts in one round trip on held connections: NOSCRIPT reload, a connection Redis closed,
a reply that came too late, concurrent greenlets and a forked process each on their own."""

from __future__ import annotations

import uuid

import gevent
import pytest
import redis

from gateway_project.redis_client import redis_client
from gateway_project.redis_scripts import RedisScript, held_connections
from tests.gateway_project.forked import in_forked_child

COUNTER = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
# Busy for 0.7 s inside Redis, past the pool's 0.5 s socket timeout; answers 'late'.
SLOW = RedisScript(
    "local t = redis.call('TIME') repeat local n = redis.call('TIME') "
    "until (n[1] - t[1]) * 1000000 + (n[2] - t[2]) > 700000 return 'late'"
)


def held_client_id() -> int:
    """Redis's id of the idle held connection the next call takes (asked on it, outside any
    script)."""
    connection = held_connections(redis_client()).idle[-1]
    connection.send_command("CLIENT", "ID")
    return connection.read_response()


@pytest.fixture
def key() -> str:
    return f"test:scripts:{uuid.uuid4().hex}"


def test_one_evalsha_on_a_held_connection(key):
    assert COUNTER([key], [2]) == 2
    held = held_connections(redis_client())
    idle = list(held.idle)
    assert idle
    assert COUNTER([key], [3]) == 5
    assert held.idle == idle  # the connection taken was given back


def test_a_flushed_script_cache_is_loaded_again(key, redis_conn):
    assert COUNTER([key], [1]) == 1
    redis_conn.script_flush()
    assert COUNTER([key], [1]) == 2
    assert redis_conn.script_exists(COUNTER.sha) == [True]


def test_a_connection_redis_closed_while_idle_is_replaced(key, redis_conn):
    assert COUNTER([key], [1]) == 1
    held_id = held_client_id()
    redis_conn.client_kill_filter(_id=held_id)  # as a Redis restart closes every connection
    assert COUNTER([key], [1]) == 2  # counted once, on a new connection
    assert held_client_id() != held_id


def test_a_reply_that_came_too_late_never_answers_the_next_call(key):
    assert COUNTER([key], [0]) == 0
    held = held_connections(redis_client())
    idle = list(held.idle)
    with pytest.raises(redis.TimeoutError):
        SLOW([], [])
    assert held.idle == idle[:-1]  # the connection it took was closed, not given back
    assert COUNTER([key], [7]) == 7


def test_concurrent_greenlets_each_call_on_their_own_connection(key):
    calls = [gevent.spawn(COUNTER, [key], [1]) for _ in range(20)]
    gevent.joinall(calls, raise_error=True)
    assert sorted(call.value for call in calls) == list(range(1, 21))
    assert COUNTER([key], [0]) == 20


def test_redis_errors_come_as_redis_py_raises_them():
    with pytest.raises(redis.ResponseError, match="bad input"):
        RedisScript("return redis.error_reply('bad input')")([], [])
    assert held_connections(redis_client()).idle  # an error reply leaves the connection usable


def test_a_forked_process_calls_on_connections_of_its_own(key):
    assert COUNTER([key], [1]) == 1
    parent_id = held_client_id()
    # the child: its connection's client id, or 0 when the call failed
    child_id = in_forked_child(lambda: held_client_id() if COUNTER([key], [1]) == 2 else 0)
    assert child_id not in (0, parent_id)
    assert COUNTER([key], [1]) == 3
    assert held_client_id() == parent_id  # the parent's held connection is left intact
