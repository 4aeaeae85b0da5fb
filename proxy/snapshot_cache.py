"""Per-process snapshot cache: bounded LRUs (live gateways, unknown hosts), versions, one build."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from gateway_project import invalidation
from gateway_project.conf import gateway_settings
from gateways.versions import (
    DIRECTORY,
    Stamp,
    current_stamp,
    short_lived_connection,
    versions_after,
    versions_of,
)
from observability.metrics import config_reloaded

logger = logging.getLogger(__name__)
MIN_DB_CHECK_WAIT = 0.01  # the background loop's shortest wait (an interval of 0 checks at once)


@dataclass(frozen=True)
class Entry:
    """A cached lookup: the scope it depends on, that scope's version when built, the result."""

    scope: str
    version: int
    snapshot: Any | None


Loader = Callable[[str], Entry]


class LRU:
    """A bounded mapping that evicts the least recently used entry; its size is a setting."""

    def __init__(self, size_setting: str) -> None:
        self.size_setting = size_setting
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    # Lock-free: gevent switches only on I/O; under real threads (tests, sync servers) each
    # step tolerates another thread's change instead of failing.

    def get(self, key: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            with contextlib.suppress(KeyError):
                self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        self._entries[key] = entry
        with contextlib.suppress(KeyError):
            self._entries.move_to_end(key)
            while len(self._entries) > getattr(gateway_settings, self.size_setting):
                self._entries.popitem(last=False)

    def drop_older(self, versions: dict[str, int]) -> None:
        for key, entry in list(self._entries.items()):
            if versions.get(entry.scope, -1) > entry.version:
                self._entries.pop(key, None)

    def scopes(self) -> set[str]:
        return {entry.scope for entry in list(self._entries.values())}

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


class SnapshotCache:
    """subdomain → compiled snapshot (None for unknown subdomains), kept current.

    Freshness: every CONFIG_CHECK_INTERVAL one Redis read of the published counter (never two at
    once: lookups meanwhile do not wait for it); when it moved,
    one read of the versions of the cached scopes, and entries older than those are dropped. Every
    CONFIG_DB_CHECK_INTERVAL (and at once when Redis comes back) the database's own counter is read:
    when Redis is behind it (a publish was lost during an outage) the cache catches up from the
    database and re-publishes the missed versions to Redis, so no committed change is lost. A
    served worker makes the database check in a background greenlet (`start_database_checks`),
    after lookups and never while idle; the lookup that finds it due makes it while Redis is down
    (and the Redis poll always): a change published through any process is seen by the next
    lookup that polls, and a stream after a quiet spell no longer waits for the database.

    Database use: one build per subdomain at a time (others wait for it), at most
    SNAPSHOT_BUILD_CONCURRENCY builds or checks at once per process, each on a connection closed
    right after.
    """

    def __init__(self, load: Loader, *, listen: bool = True) -> None:
        """`listen`: also hear this process's own writes at once (not only through Redis)."""
        self._load = load
        self.live = LRU("SNAPSHOT_CACHE_SIZE")
        self.unknown = LRU("UNKNOWN_HOST_CACHE_SIZE")
        self._epoch: str | None = None
        self._counter: int | None = None  # the counter last read from Redis
        self._seen: dict[str, int] = {}  # newest versions heard of, to refuse storing stale builds
        self._redis_up = True
        self._polled_at = self._db_checked_at = float("-inf")
        # A background loop makes the database check (lookups make it only while Redis is down).
        self.database_checked_in_background = False
        self._looked_up = False  # a lookup came since the background loop's last check
        self._guard = threading.Lock()  # gevent's lock once gunicorn has monkey-patched
        # One poll in flight: a worker too busy to read the reply within the interval started
        # more, each on a Redis connection of its own kept by the pool (bench/README.md).
        self._polling = threading.Lock()
        self._building: dict[str, threading.Lock] = {}
        self._db_slots = threading.BoundedSemaphore(gateway_settings.SNAPSHOT_BUILD_CONCURRENCY)
        if listen:
            invalidation.local_listeners.append(self.note)

    def get(self, subdomain: str) -> Any | None:
        self._looked_up = True
        self._refresh()
        entry = self.live.get(subdomain) or self.unknown.get(subdomain)
        return (entry or self._build(subdomain)).snapshot

    def clear(self) -> None:
        """Forget everything, as a new process would: the next lookup also checks the database."""
        self.live.clear()
        self.unknown.clear()
        self._db_checked_at = float("-inf")

    def note(self, stamp: Stamp, versions: dict[str, int]) -> None:
        """A change published (or not) by this process: apply it here at once."""
        self._adopt(stamp.epoch)
        self._drop_older(versions)

    # freshness

    def start_database_checks(self) -> threading.Thread:
        """Make the database check in the background (a greenlet under gunicorn's gevent)."""
        thread = threading.Thread(
            target=self.check_database_in_background, name="config-database-check", daemon=True
        )
        thread.start()
        return thread

    def check_database_in_background(self, stop: threading.Event | None = None) -> None:
        """Make the database check when due until `stop` is set; lookups then leave it alone."""
        stop = stop or threading.Event()
        self.database_checked_in_background = True
        try:
            while not stop.wait(self.database_check_step()):
                pass
        finally:
            self.database_checked_in_background = False

    def database_check_step(self) -> float:
        """The background loop's step: the database check when due and lookups came since the
        last one (an idle worker opens no connection); the seconds until the next step."""
        interval = gateway_settings.CONFIG_DB_CHECK_INTERVAL
        due_in = self._db_checked_at + interval - time.monotonic()
        if due_in > 0:
            return max(due_in, MIN_DB_CHECK_WAIT)
        if self._looked_up:
            self._looked_up = False
            self._db_checked_at = time.monotonic()
            try:
                self._check_database()
            except Exception:  # the database: checked again when next due
                logger.exception("config database check failed")
        return max(interval, MIN_DB_CHECK_WAIT)

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._db_checked_at >= gateway_settings.CONFIG_DB_CHECK_INTERVAL and (
            not self.database_checked_in_background
            or not self._redis_up
            or self._db_checked_at == float("-inf")
        ):
            self._db_checked_at = now
            self._check_database()
        if (
            now - self._polled_at >= gateway_settings.CONFIG_CHECK_INTERVAL
            and self._polling.acquire(blocking=False)
        ):
            try:
                self._polled_at = now
                self._poll_redis()
            finally:
                self._polling.release()

    def _poll_redis(self) -> None:
        if self._epoch is None:
            return
        try:
            counter = invalidation.published_counter(self._epoch)
            # A counter gone back means Redis restarted empty: it may have missed changes.
            lost = self._counter is not None and counter < self._counter
            if counter != self._counter:
                self._drop_older(invalidation.published_versions(self._epoch, self._scopes()))
                self._counter = counter
        except redis.RedisError:
            if self._redis_up:
                logger.warning("config versions unreadable (Redis down); checking the database")
            self._redis_up = False
            return
        if lost or not self._redis_up:  # whatever Redis missed meanwhile is in the database
            self._redis_up = True
            self._db_checked_at = time.monotonic()
            self._check_database()

    def _check_database(self) -> None:
        with self._db_slots, short_lived_connection():
            stamp = current_stamp()
            self._adopt(stamp.epoch)
            in_database = versions_of(self._scopes())
            self._drop_older(in_database)
            missed = self._missed_by_redis(stamp, in_database)
        if missed:
            logger.warning("re-publishing %d config version(s) Redis missed", len(missed))
            invalidation.publish(stamp, missed)

    def _missed_by_redis(self, stamp: Stamp, in_database: dict[str, int]) -> dict[str, int]:
        """Versions Redis lacks: of the cached scopes, and all changes past its counter."""
        try:
            counter = invalidation.published_counter(stamp.epoch)
            published = invalidation.published_versions(stamp.epoch, in_database)
        except redis.RedisError:
            return {}
        missed = {s: v for s, v in in_database.items() if v > published.get(s, 0)}
        return missed | versions_after(counter) if counter < stamp.counter else missed

    def _adopt(self, epoch: str) -> None:
        if epoch != self._epoch:  # another database lineage (a new or reset database)
            self._epoch, self._counter, self._seen = epoch, None, {}
            self.live.clear()
            self.unknown.clear()

    def _scopes(self) -> set[str]:
        return self.live.scopes() | {DIRECTORY}

    def _drop_older(self, versions: dict[str, int]) -> None:
        if len(self._seen) > 2 * len(self.live) + 1000:
            self._seen.clear()
        for scope, version in versions.items():
            self._seen[scope] = max(version, self._seen.get(scope, version))
        self.live.drop_older(versions)
        self.unknown.drop_older(versions)

    # building

    def _build(self, subdomain: str) -> Entry:
        """Build once per subdomain at a time; concurrent callers wait and share the result."""
        with self._guard:
            lock = self._building.setdefault(subdomain, threading.Lock())
        try:
            with lock:
                entry = self.live.get(subdomain) or self.unknown.get(subdomain)
                if entry is None:
                    entry = self._load_entry(subdomain)
                    self._store(subdomain, entry)
                    if entry.snapshot is not None:
                        config_reloaded()
                return entry
        finally:
            with self._guard:
                if self._building.get(subdomain) is lock and not lock.locked():
                    del self._building[subdomain]

    def _load_entry(self, subdomain: str) -> Entry:
        if self._epoch is None:
            self._check_database()
        with self._db_slots, short_lived_connection():
            return self._load(subdomain)

    def _store(self, subdomain: str, entry: Entry) -> None:
        if self._seen.get(entry.scope, -1) > entry.version:
            return  # a change arrived while building: serve this once, build again next time
        (self.live if entry.snapshot is not None else self.unknown).put(subdomain, entry)
