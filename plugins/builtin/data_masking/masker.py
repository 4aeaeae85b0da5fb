"""The masking engine of one plugin instance, compiled once: entities in one combined RE2
scan, then operator regex rules (RE2), keywords, and fuzzy keyword matching per word. Each
matches the folded text (plugins.detection.normalise); only the original characters a match
covers are replaced, the rest is sent on as it came."""

from __future__ import annotations

import functools
import hashlib
import hmac
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import re2
from rapidfuzz.distance import Levenshtein

from plugins.builtin.data_masking.config import DataMaskingConfig, EntityConfig, RuleConfig
from plugins.builtin.data_masking.entities import BY_NAME, ENTITIES, Entity
from plugins.detection.normalise import Origins, folded_with_origins, unicode_folded

APPLY_ALL_MASK = "*****"
CONTEXT_WINDOW = 48  # characters before a value where a context word rescues a failed check
# Where a key splits into words: `card_number`, `card-number`, `cardNumber`, `card.number`.
KEY_WORD_BREAK = re.compile(r"[\s_\-.]+|(?<=[a-z0-9])(?=[A-Z])")
MAX_KEYS = 1024  # keys whose context words are remembered
# google-re2 is pinned: its low-level Match call (byte offsets, every group's span).
UNANCHORED = re2._Anchor.UNANCHORED
ANCHOR_START = re2._Anchor.ANCHOR_START
TOKEN = re.compile(r"<PII_[A-Z0-9_]+_[0-9a-f]{8}>")


def re2_options(*, capture: bool = True) -> re2.Options:
    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    options.never_capture = not capture
    return options


def byte_spans(regexp: Any, data: bytes) -> Iterator[tuple[int, int]]:
    """Spans of the matches of a low-level RE2 regexp in `data`, left to right."""
    pos, end = 0, len(data)
    while pos <= end:
        span = regexp.Match(UNANCHORED, data, pos, end)[0]
        if span[0] < 0:
            return
        yield span
        pos = span[1] if span[1] > span[0] else span[1] + 1


def compile_re2(pattern: str) -> Any:
    """An operator's pattern on RE2 (linear time), folded as the text it matches is; raises
    re2.error when it cannot."""
    return re2.compile(unicode_folded(pattern), re2_options())


@dataclass(frozen=True)
class Target:
    """What a hit becomes: `kind` names it in findings and tokens (never the value)."""

    kind: str
    mask: str
    preserve_len: bool = False


Spans = list[tuple[int, int, Target]]


@dataclass
class Hits:
    """What masking one request (or answer) did: kinds hit, and with reversible hashing the
    token → original value mapping (kept on the request context only)."""

    secret: bytes | None = None
    kinds: dict[str, None] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def replace(self, target: Target, value: str) -> str:
        self.kinds[target.kind] = None
        if self.secret is not None:
            digest = hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()[:8]
            token = f"<PII_{target.kind.upper()}_{digest}>"
            self.tokens[token] = value
            return token
        return "*" * len(value) if target.preserve_len else target.mask


@dataclass(frozen=True)
class ScanEntity:
    entity: Entity
    target: Target
    value_group: str | None
    context: re.Pattern[str] | None


def context_regex(words: tuple[str, ...]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternation = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")


class Masker:
    """Masks text as the settings say; shared by concurrent requests (no state of its own)."""

    def __init__(self, config: DataMaskingConfig) -> None:
        self.normalize: bool = config.normalize_input
        self.entities = self._entities(config)
        words = {word for item in self.entities for word in item.entity.context}
        self.key_words = context_regex(tuple(words))
        self.key_contexts: dict[str, str] = {}  # key -> its context words (a bounded memo)
        self.scan = self._scan_regex()
        rules = config.rules
        self.regex_rules = [
            (compile_re2(rule.pattern), self._rule_target("regex_rule", index, rule))
            for index, rule in enumerate(rules, 1)
            if rule.type == "regex"
        ]
        keywords = {
            unicode_folded(rule.pattern): Target(f"keyword_rule_{index}", rule.mask_with)
            for index, rule in enumerate(rules, 1)
            if rule.type == "keyword"
        }
        self.keywords = {self._fold(word): target for word, target in keywords.items()}
        self.first_keyword = next(iter(keywords.values()), None)  # for case folds lower() misses
        flags = re.IGNORECASE if self.normalize else 0
        ordered = sorted(keywords, key=len, reverse=True)
        alternation = "|".join(re.escape(word) for word in ordered)
        self.keyword_regex = re.compile(alternation, flags) if keywords else None
        # The scan and the regex rules without groups: where a stream may not cut.
        patterns = [regex.pattern for regex, _ in self.regex_rules]
        if self.scan is not None:
            patterns.append(self.scan.pattern)
        self.spotters = [re2.compile(p, re2_options(capture=False))._regexp for p in patterns]
        self.max_edits: int = config.max_edit_distance
        self.similarity: float = config.similarity_threshold
        self.fuzzy_words = self._fuzzy_words_regex()

    def _fuzzy_words_regex(self) -> re.Pattern[str] | None:
        """Whole words of a length some keyword is within max_edit_distance of."""
        if not self.keywords or not self.max_edits:
            return None
        lengths = [len(keyword) for keyword in self.keywords]
        shortest, longest = max(1, min(lengths) - self.max_edits), max(lengths) + self.max_edits
        return re.compile(rf"(?<!\w)\w{{{shortest},{longest}}}(?!\w)")

    @staticmethod
    def _rule_target(prefix: str, index: int, rule: RuleConfig) -> Target:
        return Target(f"{prefix}_{index}", rule.mask_with, rule.preserve_len)

    @staticmethod
    def _entities(config: DataMaskingConfig) -> list[ScanEntity]:
        items = {item.entity: item for item in config.predefined_entities}
        apply_all = config.apply_all
        chosen = []
        for entity in ENTITIES:
            item = items.get(entity.name)
            if item is None and not apply_all or item is not None and not item.enabled:
                continue
            item = item or EntityConfig(entity=entity.name)
            mask = item.mask_with or (APPLY_ALL_MASK if apply_all else entity.mask)
            target = Target(entity.name, mask, item.preserve_len)
            group = f"v{len(chosen)}" if "(?P<value>" in entity.pattern else None
            chosen.append(ScanEntity(entity, target, group, context_regex(entity.context)))
        return chosen

    def _scan_regex(self) -> Any:
        if not self.entities:
            return None
        parts = []
        for index, item in enumerate(self.entities):
            pattern = item.entity.pattern
            if item.value_group:
                pattern = pattern.replace("(?P<value>", f"(?P<{item.value_group}>")
            parts.append(f"(?P<e{index}>{pattern})")
        scan = re2.compile("|".join(parts), re2_options())
        self.anchored_set = re2.Set.MatchSet(re2_options())
        self.anchored = []
        for item in self.entities:
            regex = re2.compile(item.entity.pattern, re2_options())
            self.anchored.append((regex._regexp, regex.groupindex.get("value", 0)))
            self.anchored_set.Add(item.entity.pattern.replace("(?P<value>", "(?:"))
        self.anchored_set.Compile()
        outer_groups = [scan.groupindex[f"e{i}"] for i in range(len(self.entities))]
        getter = operator.itemgetter(*outer_groups)
        self.outer_spans = getter if len(outer_groups) > 1 else lambda groups: (getter(groups),)
        self.value_groups = [
            scan.groupindex[item.value_group] if item.value_group else 0 for item in self.entities
        ]
        return scan

    def _fold(self, text: str) -> str:
        return text.lower() if self.normalize else text

    def key_context(self, key: str) -> str:
        """The words of a JSON key, form field or header name (lower case, `_`, `-` and
        camelCase split), when one of them is a context word of an entity; else ""."""
        if not key or self.key_words is None:
            return ""
        known = self.key_contexts.get(key)
        if known is None:
            words = KEY_WORD_BREAK.sub(" ", unicode_folded(key)[-CONTEXT_WINDOW:]).lower().strip()
            known = words if self.key_words.search(words) else ""
            if len(self.key_contexts) < MAX_KEYS:
                self.key_contexts[key] = known
        return known

    def mask(self, text: str, hits: Hits, context: str = "", key: str = "") -> str:
        """Everything the settings name, masked: entities, regex rules, keywords, fuzzy.
        `context`: the text just before (of a stream), where context words may stand; `key`:
        the name `text` is the value of, a context word of the whole value."""
        key_words = self.key_context(key) if key else ""
        folding = Folding(text)
        if context or key_words:
            folding.mask(self.entity_finder(context, key_words), hits)
        else:
            folding.mask(self.entity_spans, hits)
        for regex, target in self.regex_rules:
            folding.mask(functools.partial(rule_spans, regex, target), hits)
        if self.keyword_regex is not None:
            folding.mask(self.keyword_spans, hits)
            if self.fuzzy_words is not None:
                folding.mask(self.fuzzy_spans, hits)
        return folding.text

    def entity_spans(self, text: str, start: int = 0, key: str = "") -> Spans:
        """Entity hits at or after `start` (text before it only gives context words, and the
        words before a value matched only after them); `key`: context words of every value.

        A match that fails its check leaves the place to the entities listed after it that
        match there (an IPv6-looking MAC address, an IBAN-looking ISIN)."""
        if self.scan is None:
            return []
        data = text.encode()
        ascii_only = len(data) == len(text)
        first = start if ascii_only else len(text[:start].encode())
        pos = max(0, first - CONTEXT_WINDOW) if start else 0
        spans: Spans = []
        regexp, end = self.scan._regexp, len(data)
        while pos < end:
            groups = regexp.Match(UNANCHORED, data, pos, end)
            if groups[0][0] < 0:
                break
            index = self._matched_entity(groups)
            value = groups[self.value_groups[index]] if self.value_groups[index] else groups[0]
            hit = self._hit(text, data, ascii_only, index, value, key)
            if hit is None:
                hit = self._fallback(text, data, ascii_only, index, groups[0][0], key)
            if hit is not None and hit[0] < start:  # a value of the context: already sent
                hit = None
            if hit is None:  # on past it; from its next character if it reaches into the text
                crossing = groups[0][0] < first < groups[0][1]
                pos = (
                    groups[0][1]
                    if groups[0][1] > groups[0][0] and not crossing
                    else groups[0][0] + 1
                )
                continue
            spans.append(hit[:3])
            pos = max(hit[3], groups[0][0] + 1)
        return spans

    def _matched_entity(self, groups: list[tuple[int, int]]) -> int:
        for index, span in enumerate(self.outer_spans(groups)):
            if span[0] >= 0:
                return index
        raise AssertionError("a match of the scan is a match of one of its entities")

    def _hit(
        self, text: str, data: bytes, ascii_only: bool, index: int, value: tuple[int, int], key: str
    ) -> tuple[int, int, Target, int] | None:
        """(start, end, target, byte end) of a value that counts, in characters of `text`."""
        begin, end = value
        if not ascii_only:
            begin, end = len(data[:begin].decode()), len(data[:end].decode())
        item = self.entities[index]
        counts = self._counts(item, text, begin, end, key)
        return (begin, end, item.target, value[1]) if counts else None

    def _fallback(
        self, text: str, data: bytes, ascii_only: bool, failed: int, at: int, key: str
    ) -> tuple[int, int, Target, int] | None:
        """The first entity after `failed` whose value matching at byte `at` counts."""
        matching = self.anchored_set.Match(data[at:]) or []
        for index in sorted(i for i in matching if i > failed):
            regexp, group = self.anchored[index]
            groups = regexp.Match(ANCHOR_START, data, at, len(data))
            if groups[0][0] >= 0:
                hit = self._hit(text, data, ascii_only, index, groups[group], key)
                if hit is not None:
                    return hit
        return None

    @staticmethod
    def _counts(item: ScanEntity, text: str, start: int, end: int, key: str) -> bool:
        check = item.entity.check
        if check is None or check(text[start:end]):
            return True
        if item.context is None:
            return False
        if key and item.context.search(key) is not None:
            return True
        window = text[max(0, start - CONTEXT_WINDOW) : start].lower()
        return item.context.search(window) is not None

    def entity_finder(self, context: str, key: str) -> Callable[[str], Spans]:
        """The entity hits of a folded text; `context` (the text before) and `key` (the words
        of the name of the value) stand before it, so a value matched only after its words
        counts."""
        before = (f"{key}: " if key else "") + unicode_folded(context)

        def find(folded: str) -> Spans:
            shift = len(before)
            spans = self.entity_spans(before + folded, shift, key)
            return [(s - shift, e - shift, t) for s, e, t in spans]

        return find

    def candidate_spans(self, text: str) -> list[tuple[int, int]]:
        """Where anything may match, checks aside, in characters of `text`: a stream never
        cuts inside one."""
        folded, origins = (text, None) if text.isascii() else folded_with_origins(text)
        data = folded.encode()
        spans = [span for regexp in self.spotters for span in byte_spans(regexp, data)]
        if len(data) != len(folded):
            spans = [(len(data[:a].decode()), len(data[:b].decode())) for a, b in spans]
        if self.keyword_regex is not None:
            spans.extend(match.span() for match in self.keyword_regex.finditer(folded))
        if origins is None:
            return spans
        return [origins.span(a, b) for a, b in spans if b > a]

    def keyword_spans(self, text: str) -> Spans:
        return [
            (*match.span(), self.keywords.get(self._fold(match.group()), self.first_keyword))
            for match in self.keyword_regex.finditer(text)
        ]

    def fuzzy_spans(self, text: str) -> Spans:
        spans = []
        for match in self.fuzzy_words.finditer(text):
            target = self._fuzzy(match.group())
            if target is not None:
                spans.append((*match.span(), target))
        return spans

    def _fuzzy(self, word: str) -> Target | None:
        folded = self._fold(word)
        for keyword, target in self.keywords.items():
            if abs(len(keyword) - len(folded)) > self.max_edits:
                continue
            edits = Levenshtein.distance(folded, keyword, score_cutoff=self.max_edits)
            similar = 1 - edits / max(len(keyword), len(folded)) >= self.similarity
            if 0 < edits <= self.max_edits and similar:
                return target
        return None


def rule_spans(regex: Any, target: Target, text: str) -> Spans:
    """The non-empty matches of an operator's regex rule."""
    return [
        (*match.span(), target) for match in regex.finditer(text) if match.end() > match.start()
    ]


class Folding:
    """A text being masked, and its folded form once one is needed (until a replacement
    changes the text): pure ASCII text is its own folded form."""

    __slots__ = ("text", "folded")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded: tuple[str, Origins] | None = None

    def mask(self, find: Callable[[str], Spans], hits: Hits) -> None:
        """The spans `find` reports in the folded text replaced: only the original characters
        each span covers change."""
        if self.text.isascii():
            self.text = replace_spans(self.text, find(self.text), hits)
            return
        if self.folded is None:
            self.folded = folded_with_origins(self.text)
        folded, origins = self.folded
        spans, last = [], 0
        for start, end, target in find(folded):
            if end > start:
                begin, stop = origins.span(start, end)
                if stop > max(begin, last):
                    spans.append((max(begin, last), stop, target))
                    last = stop
        if spans:
            self.text = replace_spans(self.text, spans, hits)
            self.folded = None


def replace_spans(text: str, spans: Spans, hits: Hits) -> str:
    if not spans:
        return text
    out, last = [], 0
    for start, end, target in spans:
        out.append(text[last:start])
        out.append(hits.replace(target, text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def restore_tokens(text: str, tokens: dict[str, str], restored: Callable[[], None]) -> str:
    """Tokens of this request put back to their original values."""
    if "<PII_" not in text:
        return text

    def original(match: re.Match[str]) -> str:
        value = tokens.get(match.group())
        if value is None:
            return match.group()
        restored()
        return value

    return TOKEN.sub(original, text)


def known_entity(name: str) -> bool:
    return name in BY_NAME
