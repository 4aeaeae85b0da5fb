"""OAuth2 client-credentials tokens of upstream targets: fetched once, cached until shortly
before they expire in the process and in Redis (shared by every worker and node), forgotten
when the target refuses them."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import redis
from urllib3 import Timeout
from urllib3.exceptions import HTTPError

from gateway_project.conf import gateway_settings
from gateway_project.redis_client import redis_client
from proxy.connections import UpstreamAddressDenied, new_pool_manager
from proxy.transports import Transport, manager_of

logger = logging.getLogger(__name__)

POOLS = new_pool_manager()
TOKEN_READ_TIMEOUT = 10.0
MAX_TOKEN_BYTES = 64 * 1024
DEFAULT_LIFETIME = 60  # seconds a token without `expires_in` is used
EARLY = 60  # a token is renewed this long before it expires (a tenth of short lifetimes)
_TOKENS: dict[str, tuple[str, float]] = {}  # client key -> (token, expires at, epoch seconds)


class TokenUnavailable(Exception):
    """The token endpoint did not give a usable token."""


@dataclass(frozen=True)
class OAuthClient:
    """A target's `auth.oauth` as stored (client_credentials)."""

    token_url: str
    client_id: str
    client_secret: str
    use_basic_auth: bool = False
    scopes: tuple[str, ...] = ()
    audience: str = ""
    proxy: Transport | None = None  # the upstream's egress proxy, if it has one

    @property
    def key(self) -> str:
        """Names the token in caches (the secret included: a new secret, a new token)."""
        parts = (self.token_url, self.client_id, self.client_secret, *self.scopes, self.audience)
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def oauth_client_of(
    auth: Mapping[str, Any] | None, proxy: Transport | None = None
) -> OAuthClient | None:
    oauth = (auth or {}).get("oauth")
    if not oauth:
        return None
    return OAuthClient(
        token_url=oauth["token_url"],
        client_id=oauth["client_id"],
        client_secret=oauth["client_secret"],
        use_basic_auth=bool(oauth.get("use_basic_auth")),
        scopes=tuple(oauth.get("scopes") or ()),
        audience=oauth.get("audience") or "",
        proxy=proxy,
    )


def _redis_key(client: OAuthClient) -> str:
    return f"oauth2:token:{client.key}"


def access_token(client: OAuthClient) -> str:
    """A token valid for a while yet: this process's, else the one another worker stored in
    Redis, else a new one from the token endpoint (then stored in both)."""
    cached = _TOKENS.get(client.key)
    now = time.time()
    if cached is not None and cached[1] > now:
        return cached[0]
    try:
        shared = redis_client().get(_redis_key(client))
    except redis.RedisError as exc:
        logger.warning("OAuth2 token cache unreachable: %s", exc)
        shared = None
    if shared:
        token, expires_at = json.loads(shared)
        if expires_at > now:
            _TOKENS[client.key] = (token, expires_at)
            return token
    token, lifetime = fetch_token(client)
    expires_at = now + lifetime
    _TOKENS[client.key] = (token, expires_at)
    try:
        value = json.dumps([token, expires_at])
        redis_client().set(_redis_key(client), value, ex=max(int(lifetime), 1))
    except redis.RedisError as exc:
        logger.warning("OAuth2 token cache unreachable: %s", exc)
    return token


def forget_token(client: OAuthClient | None, authorization: str) -> None:
    """The target refused the token sent as `authorization`: drop it (unless already renewed)."""
    if client is None:
        return
    refused = authorization.removeprefix("Bearer ")
    cached = _TOKENS.get(client.key)
    if cached is not None and cached[0] == refused:
        del _TOKENS[client.key]
    try:
        shared = redis_client().get(_redis_key(client))
        if shared and json.loads(shared)[0] == refused:
            redis_client().delete(_redis_key(client))
    except redis.RedisError as exc:
        logger.warning("OAuth2 token cache unreachable: %s", exc)


def fetch_token(client: OAuthClient) -> tuple[str, float]:
    """POST the client-credentials grant (RFC 6749 4.4), through the upstream's egress proxy
    if it has one: the token and how long to use it."""
    form = {"grant_type": "client_credentials"}
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    if client.use_basic_auth:  # RFC 6749 2.3.1: each part form-encoded first
        pair = f"{quote(client.client_id, safe='')}:{quote(client.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    else:
        form |= {"client_id": client.client_id, "client_secret": client.client_secret}
    if client.scopes:
        form["scope"] = " ".join(client.scopes)
    if client.audience:
        form["audience"] = client.audience
    try:
        pools = POOLS if client.proxy is None else manager_of(client.proxy)
        response = pools.request(
            "POST",
            client.token_url,
            body=urlencode(form),
            headers=headers,
            redirect=False,
            retries=False,
            timeout=Timeout(connect=gateway_settings.CONNECT_TIMEOUT, read=TOKEN_READ_TIMEOUT),
            preload_content=False,
        )
        body = response.read(MAX_TOKEN_BYTES + 1)
        response.release_conn()
    except (HTTPError, UpstreamAddressDenied, OSError) as exc:
        raise TokenUnavailable(f"token endpoint unreachable: {type(exc).__name__}") from exc
    if response.status != 200 or len(body) > MAX_TOKEN_BYTES:
        raise TokenUnavailable(f"token endpoint answered {response.status}")
    return _read_token(body)


def _read_token(body: bytes) -> tuple[str, float]:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise TokenUnavailable("token endpoint answered no JSON") from exc
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token or not token.isascii() or not token.isprintable():
        raise TokenUnavailable("token endpoint answered no usable access_token")
    if str(data.get("token_type") or "bearer").lower() != "bearer":
        raise TokenUnavailable("token endpoint answered a token that is not a Bearer token")
    expires_in = data.get("expires_in")
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        expires_in = DEFAULT_LIFETIME
    return token, expires_in - min(EARLY, expires_in / 10)
