"""data_masking: PII and secrets masked in request bodies, response bodies and live streams;
optionally reversible (HMAC tokens restored in the answer); always fails closed."""

from __future__ import annotations

from typing import Any

from plugins.base import Plugin
from plugins.builtin.data_masking.body import NOT_PARSED, mask_body
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
    secret_settings = ("reversible_hashing.secret",)
    rewrites_request = True
    error_message = FAILED
    stream_error_message = FAILED

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.masker = Masker(self.settings)
        reversible = self.settings["reversible_hashing"]
        self.reversible: bool = reversible["enabled"]
        self.secret = reversible["secret"].encode() if self.reversible else None

    def fails_open_on(self, stage: str, error: Exception) -> bool:
        return False

    @scrubbed
    def pre_request(self, request: RequestContext) -> None:
        """The body masked before it goes upstream; with reversible hashing, the tokens'
        originals kept on the request for the post_response instance."""
        hits = Hits(secret=self.secret)
        masked = mask_body(
            request.body,
            request.headers.get("Content-Type", ""),
            lambda text: self.masker.mask(text, hits),
            parsed=request.json_body,
        )
        if masked is not None:
            known = masked.json is not NOT_PARSED
            request.replace_body(masked.body, masked.json if known else None, known=known)
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

        def mask(text: str) -> str:
            text = self.masker.mask(text, hits)
            return restore_tokens(text, tokens, lambda: self.found(request, "restored"))

        masked = mask_body(response.body, response.headers.get("Content-Type", ""), mask)
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
