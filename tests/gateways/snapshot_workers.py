"""Snapshot caches standing for other workers, and a config change whose publish Redis lost."""

from __future__ import annotations

from typing import Any

from gateway_project import invalidation
from gateways.versions import current_stamp
from proxy.snapshot import load_entry
from proxy.snapshot_cache import SnapshotCache


def other_worker() -> SnapshotCache:
    """A second cache of this process that, like another worker, only hears Redis."""
    return SnapshotCache(load_entry, listen=False)


def deactivate_with_the_publish_lost(api: Any, redis_conn: Any, gateway: Any) -> None:
    """Make `gateway` inactive through the admin API, then put Redis's published versions back
    as they were: Redis as it would be had the publish been lost."""
    key = invalidation.versions_key(current_stamp().epoch)
    published_before = redis_conn.hgetall(key)
    assert api.patch(f"/api/v1/gateways/{gateway.id}", {"status": "inactive"}).status_code == 200
    redis_conn.delete(key)
    redis_conn.hset(key, mapping=published_before)
