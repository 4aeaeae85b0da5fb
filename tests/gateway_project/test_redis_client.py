"""One Redis client per process: requests in other greenlets and threads share it, and a
changed CACHES setting is honoured."""

from __future__ import annotations

import gc
from concurrent.futures import ThreadPoolExecutor

import gevent
import pytest
from django.core.cache import caches
from django.test import Client
from django.test.utils import override_settings
from django_redis.client import DefaultClient

from gateway_project.redis_client import redis_client
from gateway_project.settings.base import cache_settings
from tests.gateway_project.forked import in_forked_child

CONCURRENT = 8


def django_redis_clients() -> int:
    """django-redis client objects alive in this process (after a collection)."""
    gc.collect()
    return sum(type(item) is DefaultClient for item in gc.get_objects())  # no lazy objects woken


def ready_from_here() -> tuple[int, int, bool]:
    """GET /readyz (it pings Redis) in the calling greenlet or thread: (status, id of the
    process's client afterwards, whether this context built a cache object of its own)."""
    response = Client().get("/readyz", HTTP_HOST="api.localhost")
    return response.status_code, id(redis_client()), bool(caches.all(initialized_only=True))


@pytest.mark.django_db(transaction=True)
def test_requests_in_other_greenlets_and_threads_share_one_client():
    shared = redis_client()
    shared.ping()
    clients_before = django_redis_clients()
    greenlets = [gevent.spawn(ready_from_here) for _ in range(CONCURRENT)]
    gevent.joinall(greenlets, raise_error=True)
    with ThreadPoolExecutor(CONCURRENT) as pool:
        in_threads = list(pool.map(lambda _: ready_from_here(), range(CONCURRENT)))
    results = [greenlet.value for greenlet in greenlets] + in_threads
    assert results == [(200, id(shared), False)] * (2 * CONCURRENT)
    assert django_redis_clients() == clients_before  # none built per greenlet or thread


def test_changed_caches_setting_gets_its_own_client(client, db, redis_url):
    before = redis_client()
    with override_settings(CACHES=cache_settings("redis://127.0.0.1:1/0")):
        elsewhere = redis_client()
        assert elsewhere.connection_pool.connection_kwargs["port"] == 1
        assert client.get("/readyz", HTTP_HOST="api.localhost").status_code == 503
    restored = redis_client()
    assert restored is not elsewhere
    assert restored.connection_pool is before.connection_pool  # the same Redis as before
    assert restored.ping()
    assert client.get("/readyz", HTTP_HOST="api.localhost").status_code == 200


def test_a_forked_process_talks_to_redis_on_connections_of_its_own():
    """(gunicorn's workers fork from the master: none may share the parent's sockets.)"""
    shared = redis_client()
    parent_id = shared.client_id()
    # the child: its client id, or 0 when Redis failed it
    child_id = in_forked_child(lambda: redis_client().client_id())
    assert child_id not in (0, parent_id)
    assert shared.client_id() == parent_id  # the parent's connection is left intact
