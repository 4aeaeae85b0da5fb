"""`manage.py create_admin_token --username NAME`: prints only the new token on stdout."""

from django.core.management.base import BaseCommand

from keys.services import admin_token_create


class Command(BaseCommand):
    help = "Create an admin API token (and the staff user if needed); prints the token only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)

    def handle(self, *args, username: str, **options) -> None:
        _, secret = admin_token_create(username=username)
        self.stdout.write(secret)
