"""DRF authentication by admin token: `Authorization: Bearer <token>`."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from keys.selectors import admin_token_verify
from keys.services import admin_token_mark_used


class AdminTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("empty token provided")
        admin_token = admin_token_verify(presented=token)
        if admin_token is None:
            raise exceptions.AuthenticationFailed("invalid token")
        admin_token_mark_used(token=admin_token)
        return admin_token.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword
