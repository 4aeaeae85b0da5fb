"""End-to-end header sets: hop-by-hop headers left out, case-insensitive lookups, copies."""

from __future__ import annotations

from requests.structures import CaseInsensitiveDict

from gateway_project.headers import copy_of, end_to_end, strip_hop_by_hop

PAIRS = [
    ("Host", "api.localhost"),
    ("Connection", "keep-alive, X-Private"),
    ("Keep-Alive", "timeout=5"),
    ("X-Private", "for the next hop only"),
    ("Transfer-Encoding", "chunked"),
    ("Content-Type", "application/json"),
    ("x-many", "1"),
    ("X-Many", "2"),
]


def test_end_to_end_is_what_requests_strip_leaves_of_a_full_copy():
    expected = strip_hop_by_hop(CaseInsensitiveDict(PAIRS))
    headers = end_to_end(PAIRS, "keep-alive, X-Private")
    assert list(headers.items()) == list(expected.items())
    assert headers == expected
    assert list(headers.items()) == [
        ("Host", "api.localhost"),
        ("Content-Type", "application/json"),
        ("X-Many", "2"),  # the last of a repeated name, in the place of the first
    ]


def test_end_to_end_headers_behave_as_requests_case_insensitive_dict():
    headers = end_to_end(PAIRS, "")
    assert headers["content-type"] == headers["CONTENT-TYPE"] == "application/json"
    assert "x-private" in headers  # not named by this Connection value
    headers["content-type"] = "text/plain"
    del headers["X-PRIVATE"]
    assert headers.get("Content-Type") == "text/plain"
    assert "X-Private" not in headers
    assert headers.copy() == headers


def test_a_copy_is_independent_of_its_original():
    original = end_to_end(PAIRS, "")
    copy = copy_of(original)
    copy["Host"] = "elsewhere"
    copy.pop("Content-Type")
    assert original["Host"] == "api.localhost"
    assert original["content-type"] == "application/json"
    assert copy == CaseInsensitiveDict(
        {"Host": "elsewhere", "X-Private": "for the next hop only", "X-Many": "2"}
    )


def test_a_plain_mapping_a_plugin_put_in_place_is_copied_case_insensitively():
    copy = copy_of({"X-Api-Version": "2"})
    assert type(copy) is CaseInsensitiveDict
    assert copy["x-api-version"] == "2"
