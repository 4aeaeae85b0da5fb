"""Admin tokens: expiry, listing and revocation commands, and the token `make run` reuses."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from keys.models import AdminToken

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


def status_with(anonymous_api, token: str) -> int:
    anonymous_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return anonymous_api.get("/api/v1/gateways").status_code


def test_a_token_with_expiry_works_until_it_expires(anonymous_api):
    token = run("create_admin_token", "--username", "ops", "--expires-in", "30d")
    stored = AdminToken.objects.get()
    assert abs(stored.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert status_with(anonymous_api, token) == 200
    AdminToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert status_with(anonymous_api, token) == 401


@pytest.mark.parametrize("duration", ["30", "0d", "400d", "soon"])
def test_an_invalid_expiry_is_refused(duration):
    with pytest.raises(CommandError, match="--expires-in"):
        run("create_admin_token", "--username", "ops", "--expires-in", duration)
    assert not AdminToken.objects.exists()


def test_list_shows_tokens_without_their_secrets():
    forever = run("create_admin_token", "--username", "ops")
    dated = run("create_admin_token", "--username", "ci", "--expires-in", "1h")
    AdminToken.objects.filter(user__username="ci").update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    listing = run("admin_tokens", "list")
    assert forever not in listing
    assert dated not in listing
    lines = {line.split()[2]: line for line in listing.splitlines()[1:]}
    assert forever[:10] in lines["ops"]
    assert lines["ops"].split()[-1] == "active"
    assert "never" in lines["ops"]
    assert dated[:10] in lines["ci"]
    assert lines["ci"].split()[-1] == "expired"


@pytest.mark.parametrize("by", ["prefix", "id"])
def test_revoke_by_prefix_or_id_stops_the_token(anonymous_api, by):
    token = run("create_admin_token", "--username", "ops")
    stored = AdminToken.objects.get()
    reference = stored.prefix if by == "prefix" else str(stored.id)
    assert run("admin_tokens", "revoke", reference) == f"revoked {stored.prefix} (ops)"
    assert status_with(anonymous_api, token) == 401


def test_revoke_of_an_unknown_token_fails():
    with pytest.raises(CommandError, match="no admin token"):
        run("admin_tokens", "revoke", "gat_nothing")


def test_reuse_stored_prints_the_same_token_while_it_is_valid(settings, tmp_path, anonymous_api):
    settings.VAR_DIR = tmp_path
    first = run("create_admin_token", "--username", "admin", "--reuse-stored")
    assert run("create_admin_token", "--username", "admin", "--reuse-stored") == first
    assert AdminToken.objects.count() == 1
    kept = tmp_path / "admin_token"
    assert kept.read_text().strip() == first
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert status_with(anonymous_api, first) == 200

    run("admin_tokens", "revoke", first[:10])
    second = run("create_admin_token", "--username", "admin", "--reuse-stored")
    assert second != first
    assert kept.read_text().strip() == second
    assert status_with(anonymous_api, second) == 200


def test_reuse_stored_ignores_another_users_token(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run("create_admin_token", "--username", "admin", "--reuse-stored")
    assert run("create_admin_token", "--username", "ops", "--reuse-stored") != first


def listed_last_use() -> str:
    """The "last used" column of the one listed token."""
    header, line = run("admin_tokens", "list").splitlines()
    return dict(zip(re.split(r"\s{2,}", header), re.split(r"\s{2,}", line), strict=True))[
        "last used"
    ]


def test_last_use_is_recorded_and_listed(anonymous_api):
    token = run("create_admin_token", "--username", "ops")
    assert listed_last_use() == "-"
    assert status_with(anonymous_api, token) == 200
    used = AdminToken.objects.get().last_used_at
    assert timezone.now() - used < timedelta(minutes=1)
    assert status_with(anonymous_api, token) == 200
    assert AdminToken.objects.get().last_used_at == used  # one write per minute at most
    assert listed_last_use() == used.strftime("%Y-%m-%d %H:%M UTC")
