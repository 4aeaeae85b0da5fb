"""The readings of a text the pattern detectors match: normalised, with SQL comments read the way
a database runs them, and once more with shell quoting undone when the text has some."""

from __future__ import annotations

import html
import re

from plugins.detection.normalise import normalise, unicode_folded, url_decoded

# Every pattern below stays on one line: texts joined by new lines (engine.SEPARATOR) read as
# each one would, so the joined scan never misses what one text's scan finds.
# MySQL runs the content of `/*!UNION*/` and of `/*!50000UNION*/` (from version 5.00.00).
EXECUTABLE_COMMENT_RE = re.compile(r"/\*!\d{0,6}([^\n]*?)\*/")
# The innermost comment of nested ones (PostgreSQL nests them: `/*a/*b*/c*/`); linear.
INNERMOST_COMMENT_RE = re.compile(r"/\*(?:[^*/\n]|\*(?!/)|/(?!\*))*\*/")
MAX_NESTING = 8
# Shell quoting that leaves a word as it runs: `c''at`, `c"a"t`, `w\ho\am\i`, `cat${IFS}/etc`,
# `{cat,/etc/passwd}` (brace expansion).
SHELL_ESCAPE_OR_BRACES_RE = re.compile(r"[\w/.]\\[\w/.]|\{[\w./~-]+(?:,[\w./~-]*)+\}")
# A short ASCII text without these characters has one reading (one search: most header values,
# paths and short strings); a long text is tested character by character (memchr speed).
SHORT = 256
SPECIAL_RE = re.compile(r"[*&%'\"\\{$\v]")
# Searches that start with a literal (fast in `re`); one regex of alternatives is ten times slower.
ESCAPED_STAR_RE = re.compile(r"%2[aA5]")
IFS_RE = re.compile(r"\$\{?IFS\b")
QUOTED_WORD_RES = {quote: re.compile(rf"{quote}\w*{quote}") for quote in "'\""}
# Quotes next to a letter (`w'h'o'a'm'i`): a shell drops them from the word.
SHELL_QUOTES_RE = re.compile(r"(?<=\w)['\"]+|['\"]+(?=\w)")
SHELL_ESCAPE_RE = re.compile(r"(?<=[\w/.])\\(?=[\w/.])")
SHELL_IFS_RE = re.compile(r"\$\{IFS\}|\$IFS\b")
BRACE_EXPANSION_RE = re.compile(r"\{([\w./~-]+(?:,[\w./~-]*)+)\}")


def readings(raw: str, *, plus: bool = False) -> list[str]:
    """What a pattern detector matches: the normalised text (a MySQL executable comment read as
    its content, nested comments as a blank); when it had comments, the decoded text with the
    comments kept (`SELECT/**/name` obfuscates code); when it has shell quoting, the text with
    the quoting undone. Text with none of these pays a few literal searches more than
    normalise."""
    text = normalise(raw, plus=plus)
    if len(raw) <= SHORT and raw.isascii() and not SPECIAL_RE.search(raw):
        return [text]  # a header value, a path, a short string: nothing to read otherwise
    text = _blanked(text)
    found = [text]
    if "*" in raw or "&" in raw or not raw.isascii() or ESCAPED_STAR_RE.search(raw):
        decoded = _decoded(raw, plus=plus)
        if "/*" in decoded:
            unwrapped = EXECUTABLE_COMMENT_RE.sub(r" \1 ", decoded)
            text = _blanked(normalise(_without_nested_comments(unwrapped)))
            kept = unicode_folded(unwrapped)
            found = [text] if kept == text else [text, kept]
    if has_shell_quoting(text):
        found.append(shell_unquoted(text))
    return found


def _blanked(text: str) -> str:
    """A vertical tab (a blank to SQL and shells; RE2's `\\s` leaves it out) as a space."""
    return text.replace("\v", " ") if "\v" in text else text


def _decoded(raw: str, *, plus: bool) -> str:
    text = url_decoded(unicode_folded(raw), plus=plus)
    return html.unescape(text) if "&" in text else text


def _without_nested_comments(text: str) -> str:
    for _ in range(MAX_NESTING):
        if "/*" not in text:
            break
        text, count = INNERMOST_COMMENT_RE.subn(" ", text)
        if not count:
            break
    return text


def has_shell_quoting(text: str) -> bool:
    if ("\\" in text or "{" in text) and SHELL_ESCAPE_OR_BRACES_RE.search(text):
        return True
    if "$" in text and IFS_RE.search(text):
        return True
    return ("'" in text and _quoted_in_word(text, "'")) or (
        '"' in text and _quoted_in_word(text, '"')
    )


def _quoted_in_word(text: str, quote: str) -> bool:
    """Whether a pair of `quote`s right after a letter holds nothing or one word (`c''at`)."""
    return any(
        match.start() and text[match.start() - 1].isalnum()
        for match in QUOTED_WORD_RES[quote].finditer(text)
    )


def shell_unquoted(text: str) -> str:
    """`text` as a shell reads its words: quotes next to letters and backslashes between them
    dropped, `$IFS` a blank, `{a,b}` the words `a b`."""
    text = SHELL_QUOTES_RE.sub("", text)
    text = SHELL_ESCAPE_RE.sub("", text)
    text = SHELL_IFS_RE.sub(" ", text)
    return BRACE_EXPANSION_RE.sub(lambda match: match.group(1).replace(",", " "), text)
