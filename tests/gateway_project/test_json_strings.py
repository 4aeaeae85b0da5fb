"""The one walk over a parsed JSON document's strings (gateway_project.json_strings)."""

from __future__ import annotations

from gateway_project.json_strings import iter_strings, located_strings, map_strings

DOCUMENT = {"a": ["x", {"b": "y"}, 3], "c": None, "d": True}


def test_iter_strings_walks_the_values_depth_first():
    assert list(iter_strings({"a": ["x", {"b": "y"}, 3], "c": None})) == ["x", "y"]
    assert list(iter_strings("alone")) == ["alone"]
    assert list(iter_strings(7)) == []


def test_iter_strings_with_keys_gives_each_key_before_its_value():
    assert list(iter_strings(DOCUMENT, keys=True)) == ["a", "x", "b", "y", "c", "d"]


def test_located_strings_give_each_value_its_path():
    assert list(located_strings(DOCUMENT)) == [(("a", 0), "x"), (("a", 1, "b"), "y")]
    assert list(located_strings({"k": "v"}, ("input",))) == [(("input", "k"), "v")]


def test_map_strings_replaces_values_and_keeps_keys_and_other_values():
    assert map_strings(DOCUMENT, str.upper) == {"a": ["X", {"b": "Y"}, 3], "c": None, "d": True}


def test_map_strings_with_keys_replaces_each_key_before_its_value():
    seen: list[str] = []

    def replace(text: str) -> str:
        seen.append(text)
        return text * 2

    assert map_strings({"k": ["v", {"n": 1}]}, replace, keys=True) == {"kk": ["vv", {"nn": 1}]}
    assert seen == ["k", "v", "n"]


def test_map_strings_copies_the_document():
    document = {"a": ["x"]}
    mapped = map_strings(document, str.upper)
    assert document == {"a": ["x"]}
    assert mapped["a"] is not document["a"]
