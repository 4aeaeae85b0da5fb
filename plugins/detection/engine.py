"""Rules compiled into one RE2 set per location: one linear-time scan finds every rule that
matches a text; the matching rules' own regexes then find the fragments (for sanitising)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import re2

# RE2 works within a memory budget; a set of many rules gets a larger one than the default so
# that its DFA never gives up on a long input.
MAX_MEMORY = 64 << 20
MAX_PATTERN_LENGTH = 2000
# Many short texts (the strings of a large JSON body) are first scanned as one, joined by this
# separator, with every rule in multi-line mode: whatever matches one text matches the joined
# ones, so a body without a match costs one scan (`\A` and `\z` would not hold: not joined).
SEPARATOR = "\n"
ABSOLUTE_ANCHORS = ("\\A", "\\z")


@dataclass(frozen=True)
class Rule:
    """A named pattern: `kind` is what it detects (an injection type, a language, or the name of
    an operator's rule), `name` the rule that fired; neither is ever the matched text."""

    kind: str
    name: str
    pattern: str


def _options() -> re2.Options:
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.log_errors = False
    return options


def check_pattern(pattern: str) -> None:
    """Raise ValueError when `pattern` is not a valid RE2 regular expression (RE2 has no
    backreferences or lookaround: every pattern runs in time linear in the input)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"at most {MAX_PATTERN_LENGTH} characters")
    try:
        re2.compile(pattern, _options())
    except re2.error as exc:
        raise ValueError(f"not a valid RE2 regular expression: {exc}") from exc


class Matcher:
    """The rules of one location of one plugin instance, compiled once; shared by requests."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._regexes = tuple(re2.compile(rule.pattern, _options()) for rule in self.rules)
        self._set = _rule_set(rule.pattern for rule in self.rules)
        self._joined: re2.Set | None = None
        if not any(anchor in rule.pattern for rule in self.rules for anchor in ABSOLUTE_ANCHORS):
            self._joined = _rule_set(f"(?m){rule.pattern}" for rule in self.rules)

    def __bool__(self) -> bool:
        return bool(self.rules)

    def matching(self, text: str) -> list[Rule]:
        """Every rule that matches somewhere in `text`, in rule order (one scan)."""
        if self._set is None or not text:
            return []
        indexes = self._set.Match(text)
        return [self.rules[index] for index in sorted(indexes)] if indexes else []

    def may_match_one_of(self, joined: str) -> bool:
        """False only when none of the texts joined by SEPARATOR can match a rule."""
        if self._set is None or self._joined is None:
            return self._set is not None
        return bool(self._joined.Match(joined))

    def first(self, text: str) -> Rule | None:
        hits = self.matching(text)
        return hits[0] if hits else None

    def sanitised(self, text: str, char: str) -> tuple[str, list[Rule]]:
        """`text` with every matched fragment replaced by `char` repeated, and the rules."""
        hits = self.matching(text)
        for rule in hits:
            regex = self._regexes[self.rules.index(rule)]
            text = regex.sub(lambda match: char * len(match.group(0)), text)
        return text, hits


def _rule_set(patterns: Iterable[str]) -> re2.Set | None:
    patterns = list(patterns)
    if not patterns:
        return None
    rule_set = re2.Set.SearchSet(_options())
    for pattern in patterns:
        rule_set.Add(pattern)
    rule_set.Compile()
    return rule_set


@functools.lru_cache(maxsize=256)
def compiled(rules: tuple[Rule, ...]) -> Matcher:
    """The matcher of `rules`, shared by every plugin instance built with the same rules."""
    return Matcher(rules)
