"""`manage.py create_admin_token --username NAME [--expires-in 30d] [--reuse-stored]`.

Prints only the token on stdout. `--reuse-stored` (what `make run` uses) keeps the token in
var/admin_token (mode 0600) and prints that one again while it is still valid."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from gateway_project.durations import parse_duration_ms
from keys.selectors import admin_token_user
from keys.services import admin_token_create

STORED_TOKEN_NAME = "admin_token"


def stored_token_path() -> Path:
    return Path(settings.VAR_DIR) / STORED_TOKEN_NAME


def read_stored_token(path: Path, username: str) -> str | None:
    """The token kept in `path` if it still authenticates `username`."""
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        return None
    user = admin_token_user(presented=token) if token else None
    return token if user is not None and user.get_username() == username else None


def store_token(path: Path, token: str) -> None:
    """Write the token readable by its owner only (the file never exists with wider rights)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.replace(temporary, path)


def expires_at(expires_in: str | None) -> datetime | None:
    if expires_in is None:
        return None
    try:
        return timezone.now() + timedelta(milliseconds=parse_duration_ms(expires_in))
    except ValueError as exc:
        raise CommandError(f"--expires-in: {exc}") from exc


class Command(BaseCommand):
    help = "Create an admin API token (and the staff user if needed); prints the token only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--expires-in",
            metavar="DURATION",
            help="lifetime such as 12h, 30d (at most 366d); default: until revoked",
        )
        parser.add_argument(
            "--reuse-stored",
            action="store_true",
            help=f"print the token kept in var/{STORED_TOKEN_NAME} while it is valid, "
            "else create one and keep it there (mode 0600); for local development",
        )

    def handle(self, *args, username: str, expires_in: str | None, reuse_stored: bool, **options):
        path = stored_token_path()
        token = read_stored_token(path, username) if reuse_stored else None
        if token is None:
            _, token = admin_token_create(username=username, expires_at=expires_at(expires_in))
            if reuse_stored:
                store_token(path, token)
        self.stdout.write(token)
