"""`manage.py admin_tokens list` and `manage.py admin_tokens revoke <prefix or id>`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from keys.models import AdminToken
from keys.selectors import admin_token_find, admin_token_list
from keys.services import admin_token_revoke

COLUMNS = "{:<36}  {:<10}  {:<16}  {:<20}  {:<20}  {:<20}  {}"


def when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


class Command(BaseCommand):
    help = "List admin API tokens (never their secrets) or revoke one by display prefix or id."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        actions.add_parser("list", help="id, prefix, user, created, expires, last used, status")
        revoke = actions.add_parser("revoke", help="revoke one token: it stops working at once")
        revoke.add_argument("reference", help="the token's display prefix (gat_…) or its id")

    def handle(self, *args, action: str, **options) -> None:
        if action == "list":
            self.list_tokens()
        else:
            self.revoke(options["reference"])

    def list_tokens(self) -> None:
        self.stdout.write(
            COLUMNS.format("id", "prefix", "user", "created", "expires", "last used", "status")
        )
        for token in admin_token_list():
            status = "expired" if token.is_expired() else "active"
            self.stdout.write(
                COLUMNS.format(
                    str(token.id),
                    token.prefix,
                    token.user.get_username(),
                    when(token.created_at),
                    when(token.expires_at),
                    when(token.last_used_at) if token.last_used_at else "-",
                    status,
                )
            )

    def revoke(self, reference: str) -> None:
        try:
            token = admin_token_find(reference=reference)
        except AdminToken.DoesNotExist as exc:
            raise CommandError(f"no admin token with prefix or id {reference!r}") from exc
        except AdminToken.MultipleObjectsReturned as exc:
            raise CommandError(f"several tokens have prefix {reference!r}: use the id") from exc
        admin_token_revoke(token=token)
        self.stdout.write(f"revoked {token.prefix} ({token.user.get_username()})")
