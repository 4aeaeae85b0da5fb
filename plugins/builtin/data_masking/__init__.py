"""data_masking: PII and secrets masked in request bodies (query, chosen headers), response
bodies and live streams; optionally reversible (HMAC tokens restored in the answer); always fails
closed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from plugins.base import Plugin
from plugins.builtin.data_masking.body import NOT_PARSED, mask_body
from plugins.builtin.data_masking.config import DataMaskingConfig
from plugins.builtin.data_masking.errors import FAILED, scrubbed
from plugins.builtin.data_masking.masker import Hits, Masker, restore_tokens
from plugins.builtin.data_masking.settings import DataMaskingSettingsSerializer
from plugins.builtin.data_masking.stream import ChainedFilter, MaskingFilter, RestoringFilter
from plugins.sdk.context import Finding, RequestContext, ResponseContext
from plugins.sdk.streams.text_filter import TextFilter

TOKENS = "data_masking.tokens"  # request.metadata: token -> original value (this request only)
FOUND = "data_masking.found"  # request.metadata: (kind, action) already recorded as findings


class DataMaskingPlugin(Plugin):
    name = "data_masking"
    label = "Data Masking"
    description = (
        "Masks PII and secrets (entities with checksums and context words, regex and keyword "
        "rules, fuzzy keywords) in request bodies, response bodies and streamed answers; "
        "reversible with HMAC tokens restored in the answer. Fails closed."
    )
    category = "data_masking"
    allowed_stages = ("pre_request", "post_response")
    settings_serializer = DataMaskingSettingsSerializer
    Config = DataMaskingConfig
    config: DataMaskingConfig
    secret_settings = ("reversible_hashing.secret",)
    rewrites_request = True
    error_message = FAILED
    stream_error_message = FAILED

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.masker = Masker(self.config)
        reversible = self.config.reversible_hashing
        self.reversible: bool = reversible.enabled
        self.secret = reversible.secret.encode() if self.reversible else None
        targets = self.config.targets
        self.query: bool = targets.query
        self.headers: tuple[str, ...] = targets.headers
        self.json_keys: bool = targets.json_keys

    def fails_open_on(self, stage: str, error: Exception) -> bool:
        return False

    @scrubbed
    def pre_request(self, request: RequestContext) -> None:
        """The body masked before it goes upstream; with reversible hashing, the tokens'
        originals kept on the request for the post_response instance."""
        hits = Hits(secret=self.secret)

        def mask(text: str, key: str = "") -> str:
            return self.masker.mask(text, hits, key=key)

        masked = mask_body(
            request.body,
            request.headers.get("Content-Type", ""),
            mask,
            parsed=request.json_body,
            keys=self.json_keys,
        )
        if masked is not None:
            known = masked.json is not NOT_PARSED
            request.replace_body(masked.body, masked.json if known else None, known=known)
        if self.query and request.query_string:
            request.query_string = mask_query(request.query_string, mask)
        for name in self.headers:
            value = request.headers.get(name)
            if value and (masked_value := mask(value, name)) != value:
                request.headers[name] = masked_value
        if hits.tokens:
            request.metadata.setdefault(TOKENS, {}).update(hits.tokens)
        self.record(request, hits)

    @scrubbed
    def post_response(self, request: RequestContext, response: ResponseContext) -> None:
        """A buffered answer masked, then this request's tokens restored (a streamed one goes
        through `stream_filter`)."""
        if response.body is None:
            return
        hits = Hits()
        tokens = self.tokens(request)

        def mask(text: str, key: str = "") -> str:
            text = self.masker.mask(text, hits, key=key)
            return restore_tokens(text, tokens, lambda: self.found(request, "restored"))

        content_type = response.headers.get("Content-Type", "")
        masked = mask_body(response.body, content_type, mask, keys=self.json_keys)
        if masked is not None:
            response.body = masked.body
        self.record(request, hits)

    def stream_filter(self, request: RequestContext, response: ResponseContext) -> TextFilter:
        hits = Hits()
        masking = MaskingFilter(self.masker, hits, lambda: self.record(request, hits))
        tokens = self.tokens(request)
        if not tokens:
            return masking
        return ChainedFilter(
            masking, RestoringFilter(tokens, lambda: self.found(request, "restored"))
        )

    def tokens(self, request: RequestContext) -> dict[str, str]:
        return request.metadata.get(TOKENS, {}) if self.reversible else {}

    def record(self, request: RequestContext, hits: Hits) -> None:
        for kind in hits.kinds:
            self.found(request, "masked", kind)

    def found(self, request: RequestContext, action: str, kind: str = "reversible_hashing") -> None:
        seen = request.metadata.setdefault(FOUND, set())
        if (self.stage, kind, action) not in seen:
            seen.add((self.stage, kind, action))
            request.findings.append(Finding(self.name, kind, action))


def mask_query(query: str, mask: Callable[[str, str], str]) -> str:
    """Each value masked in the context of its name; parameters left as they came unless
    masking changed their value."""
    parts = []
    for part in query.split("&"):
        name, equals, value = part.partition("=")
        if equals:
            text = unquote_plus(value)
            masked = mask(text, unquote_plus(name))
            if masked != text:
                part = f"{name}={quote_plus(masked)}"
        parts.append(part)
    return "&".join(parts)
