"""Request path normalisation: RFC 3986 dot removal, unreserved decoding, what is refused."""

from __future__ import annotations

import pytest

from gateways.path_normalization import UnsafePath, normalize_path, raw_request_path
from gateways.paths import compile_path_pattern
from proxy.balancer import Target
from proxy.matching import RouteMatch
from proxy.outgoing import upstream_path


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("/", "/"),
        ("/a/b", "/a/b"),
        ("/a/./b", "/a/b"),
        ("/a/b/..", "/a/"),
        ("/a/b/.", "/a/b/"),
        ("/a/../b", "/b"),
        ("/a//../b", "/a/b"),  # RFC 3986 5.2.4: the empty segment is the one removed
        ("//a", "//a"),  # nothing else is collapsed
        ("/%2e%2E/", None),
        ("/a/%2e%2E/b", "/b"),
        ("/%7e%41%2d%5f%2E", "/~A-_."),
        ("/a%2fb", "/a%2Fb"),  # encoded slashes stay encoded (upper-case hex)
        ("/a%252e%252e/b", "/a%252e%252e/b"),  # one decoding pass only
        ("/caf%c3%a9", "/caf%C3%A9"),
        ('/a b"<>', "/a%20b%22%3C%3E"),
        ("/x;y=1", "/x;y=1"),
    ],
)
def test_normalisation(raw, normalised):
    if normalised is None:
        with pytest.raises(UnsafePath):
            normalize_path(raw)
    else:
        assert normalize_path(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "/..",
        "/a/../..",
        "/a/..%2f..%2fetc",
        "/a/%2e%2e%5cb",
        "/a/..\\b",
        "/a\\b",
        "/a/%00",
        "/a/\x00",
        "/a/%",
        "/a/%4",
        "/a/%g0",
        "/..;/x",
        "/a/.;x/",
        "a/b",
    ],
)
def test_refused(raw):
    with pytest.raises(UnsafePath):
        normalize_path(raw)


@pytest.mark.parametrize(
    ("environ", "raw"),
    [
        ({"RAW_URI": "/a/%2e%2e/b?x=1#f"}, "/a/%2e%2e/b"),
        ({"RAW_URI": "http://h.example/a/../b?q"}, "/a/../b"),
        ({"REQUEST_URI": "/x%2fy"}, "/x%2fy"),
        ({"PATH_INFO": "/a b/%/\\"}, "/a%20b/%25/\\"),
    ],
)
def test_raw_request_path(environ, raw):
    assert raw_request_path(environ) == raw


def test_authority_and_asterisk_targets_are_refused():
    for target in ("*", "h.example:443"):
        with pytest.raises(UnsafePath):
            raw_request_path({"RAW_URI": target})


def target(path: str) -> Target:
    return Target(key="t", base_url="http://127.0.0.1:1", path=path, weight=1)


def matched(rule: str, path: str) -> RouteMatch:
    params, rest = compile_path_pattern(rule).match(path)
    return RouteMatch(route=None, params=params, rest=rest)


def test_upstream_path_stays_under_the_target_base():
    assert upstream_path(target("/api"), matched("/p/*", "/p/x"), "/p/x", True) == "/api/x"
    with pytest.raises(UnsafePath):
        upstream_path(target("/api"), RouteMatch(None, {}, "../admin"), "/p/../admin", True)
    with pytest.raises(UnsafePath):
        upstream_path(target("/api/{id}"), RouteMatch(None, {"id": ".."}, "x"), "/", True)


def test_rule_literals_are_compared_normalised():
    assert compile_path_pattern("/a%7eb/%2fc").match("/a~b/%2Fc") == ({}, "")
    with pytest.raises(ValueError, match="dot segments"):
        compile_path_pattern("/a/../b")
