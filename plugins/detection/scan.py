"""Where detectors look in a request (headers, path and query, body) and how they rewrite it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from gateway_project.headers import CREDENTIAL_HEADERS
from gateway_project.json_strings import iter_strings, map_strings
from plugins.detection.engine import SEPARATOR, Matcher, Rule
from plugins.detection.readings import readings
from plugins.sdk.context import RequestContext

HEADERS, PATH_AND_QUERY, BODY = "headers", "path_and_query", "body"
LOCATIONS = (HEADERS, PATH_AND_QUERY, BODY)


@dataclass(frozen=True)
class Hit:
    rule: Rule
    where: str


def header_values(request: RequestContext) -> Iterator[str]:
    for name, value in request.headers.items():
        if name.lower() not in CREDENTIAL_HEADERS:
            yield value


def query_pairs(query_string: str) -> list[tuple[str, str]]:
    """Raw (still encoded) name and value of each query parameter."""
    pairs = []
    for part in query_string.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def header_texts(request: RequestContext, matcher: Matcher) -> Iterator[str]:
    for value in header_values(request):
        yield from readings(value)


def path_texts(request: RequestContext, matcher: Matcher) -> Iterator[str]:
    """The path, the whole query string, then each query name and value on its own."""
    yield from readings(request.path)
    if request.query_string:
        yield from readings(request.query_string, plus=True)
    for name, value in query_pairs(request.query_string):
        yield from readings(name, plus=True)
        yield from readings(value, plus=True)


def body_document(request: RequestContext) -> Any:
    """The parsed JSON body (a container or string), else None: the raw text is checked."""
    parsed = request.json_body()
    return parsed if isinstance(parsed, dict | list | str) else None


def body_texts(request: RequestContext, matcher: Matcher) -> Iterator[str]:
    """The raw body, or each string of a JSON body (once the joined strings may match)."""
    if not request.body:
        return
    document = body_document(request)
    if document is None:
        yield from readings(request.body.decode("utf-8", errors="replace"))
        return
    strings = list(iter_strings(document, keys=True))
    if len(strings) > 1 and not any(
        matcher.may_match_one_of(text) for text in readings(SEPARATOR.join(strings))
    ):
        return
    for string in strings:
        yield from readings(string)


TEXTS: Mapping[str, Callable[[RequestContext, Matcher], Iterator[str]]] = {
    HEADERS: header_texts,
    PATH_AND_QUERY: path_texts,
    BODY: body_texts,
}


def hits(request: RequestContext, matchers: Mapping[str, Matcher], *, first: bool) -> list[Hit]:
    """Rules matching the request, per location (each rule once); only the first when `first`."""
    found: dict[Rule, Hit] = {}
    for where, matcher in matchers.items():
        if not matcher:
            continue
        for text in TEXTS[where](request, matcher):
            for rule in matcher.matching(text):
                found.setdefault(rule, Hit(rule, where))
                if first:
                    return [found[rule]]
    return list(found.values())


def path_hit(request: RequestContext, matchers: Mapping[str, Matcher]) -> Hit | None:
    """A rule matching the path itself (which routes the request, so is never rewritten)."""
    matcher = matchers.get(PATH_AND_QUERY)
    if not matcher:
        return None
    for text in readings(request.path):
        rule = matcher.first(text)
        if rule is not None:
            return Hit(rule, PATH_AND_QUERY)
    return None


class Sanitiser:
    """Rewrites a request with every matched fragment replaced by `char` repeated; collects the
    hits. A text whose attack only shows in another reading (normalised, comments or shell
    quoting undone) is replaced by that reading."""

    def __init__(self, matchers: Mapping[str, Matcher], char: str) -> None:
        self.matchers = matchers
        self.char = char
        self.hits: dict[Rule, Hit] = {}

    def text(self, raw: str, where: str, *, plus: bool = False) -> str:
        matcher = self.matchers[where]
        for reading in readings(raw, plus=plus):
            found = matcher.matching(reading)
            if found:
                for rule in found:
                    self.hits.setdefault(rule, Hit(rule, where))
                source = raw if reading == raw else reading
                return matcher.sanitised(source, self.char)[0]
        return raw

    def request(self, request: RequestContext) -> list[Hit]:
        if self.matchers.get(HEADERS):
            self._headers(request)
        if self.matchers.get(PATH_AND_QUERY):
            self._query(request)
        if self.matchers.get(BODY) and request.body:
            self._body(request)
        return list(self.hits.values())

    def _headers(self, request: RequestContext) -> None:
        for name, value in list(request.headers.items()):
            if name.lower() not in CREDENTIAL_HEADERS:
                request.headers[name] = self.text(value, HEADERS)

    def _query(self, request: RequestContext) -> None:
        parts = []
        for name, value in query_pairs(request.query_string):
            clean_name = self.text(name, PATH_AND_QUERY, plus=True)
            clean_value = self.text(value, PATH_AND_QUERY, plus=True)
            if (clean_name, clean_value) == (name, value):
                parts.append(f"{name}={value}" if value else name)
            else:
                parts.append(f"{quote_plus(clean_name)}={quote_plus(clean_value)}")
        query = "&".join(parts)
        clean = self.text(query, PATH_AND_QUERY, plus=True)  # rules spanning parameters
        request.query_string = query if clean == query else quote(clean, safe="=&")

    def _body(self, request: RequestContext) -> None:
        document = body_document(request)
        if document is None:
            text = request.body.decode("utf-8", errors="replace")
            clean = self.text(text, BODY)
            if clean != text:
                request.replace_body(clean.encode())
            return
        before = len(self.hits)
        clean_document = map_strings(document, self._body_text, keys=True)
        if len(self.hits) != before:
            body = json.dumps(clean_document, ensure_ascii=False).encode()
            request.replace_body(body, clean_document, known=True)

    def _body_text(self, raw: str) -> str:
        return self.text(raw, BODY)
