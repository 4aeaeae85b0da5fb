"""The database's own change counter: bumped once per transaction, read by workers to catch up."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from gateway_project.invalidation import Stamp
from gateways.models import ConfigVersion

COUNTER = "counter"
DIRECTORY = "directory"  # the set of subdomains: negative (unknown host) entries depend on it


@dataclass
class PendingChange:
    """The config change of one transaction: its version and the scopes it touched.

    Registered with `on_commit`, so Django drops it with the transaction (or savepoint) that made
    it; calling it publishes the change.
    """

    stamp: Stamp
    publish: Callable[[Stamp, dict[str, int]], None]
    scopes: set[str] = field(default_factory=set)

    def __call__(self) -> None:
        self.publish(self.stamp, dict.fromkeys(self.scopes, self.stamp.counter))


def _pending() -> PendingChange | None:
    for _savepoints, func, _robust in connection.run_on_commit:
        if isinstance(func, PendingChange):
            return func
    return None


def _counter_row() -> ConfigVersion:
    """The counter row; created (new epoch) when missing, as in a database flushed by tests."""
    row = ConfigVersion.objects.filter(scope=COUNTER).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ConfigVersion.objects.create(scope=COUNTER)
        except IntegrityError:  # created concurrently
            row = ConfigVersion.objects.get(scope=COUNTER)
    return row


def _next_stamp() -> Stamp:
    """Increment the counter and return it; the row stays locked until the transaction ends."""
    if not ConfigVersion.objects.filter(scope=COUNTER).update(version=F("version") + 1):
        _counter_row()
        return _next_stamp()
    return current_stamp()


def record_change(
    *, scopes: Iterable[str], publish: Callable[[Stamp, dict[str, int]], None]
) -> None:
    """Bump the counter once for the current transaction and stamp each newly touched scope.

    The rows are written in the caller's transaction; `publish` runs once after it commits.
    """
    with transaction.atomic(savepoint=False):
        change = _pending()
        if change is None:
            change = PendingChange(_next_stamp(), publish)
            transaction.on_commit(change)
        for scope in set(scopes) - change.scopes:
            ConfigVersion.objects.update_or_create(
                scope=scope, defaults={"version": change.stamp.counter}
            )
            change.scopes.add(scope)


def current_stamp() -> Stamp:
    row = _counter_row()
    return Stamp(row.epoch, row.version)


def versions_of(scopes: Iterable[str]) -> dict[str, int]:
    """scope → version; scopes never changed are absent."""
    return dict(
        ConfigVersion.objects.filter(scope__in=list(scopes)).values_list("scope", "version")
    )


def versions_after(counter: int) -> dict[str, int]:
    """Every scope changed after `counter` (what a publisher that missed changes re-publishes)."""
    return dict(
        ConfigVersion.objects.filter(version__gt=counter)
        .exclude(scope=COUNTER)
        .values_list("scope", "version")
    )


@contextmanager
def short_lived_connection():
    """Run proxy-side reads on a connection closed right after (never held by a greenlet).

    Under gevent every greenlet has its own connection; leaving it open leaks one per request.
    Inside a transaction (tests, admin code) the connection is left alone.
    """
    try:
        yield
    finally:
        if not connection.in_atomic_block:
            connection.close()
