"""`manage.py flush_spend`: copy the spend counted in Redis to the database (run it from cron or
a timer; the spend API flushes the gateway it reads too)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from keys.spend import spend_flush


class Command(BaseCommand):
    help = "Copy the spend per gateway, key, model, provider and day from Redis to the database."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--gateway", action="append", help="only this gateway id (repeatable)")

    def handle(self, *args, gateway: list[str] | None = None, **options) -> None:
        rows = spend_flush(gateway_ids=gateway)
        self.stdout.write(f"{rows} spend rows flushed")
