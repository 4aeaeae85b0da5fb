"""The detection engine: normalisation, the RE2 rule sets, sanitising, keywords, verdicts."""

from __future__ import annotations

import json
import time

import pytest

from bench.config import CHAT_4K_REQUEST
from plugins.detection.engine import Matcher, Rule, check_pattern
from plugins.detection.keywords import KeywordMatcher
from plugins.detection.normalise import normalise
from plugins.sdk.context import Finding, PluginRejection
from tests.plugins.helpers import make_plugin, make_request

ALL = {"content_to_check": ["all"]}


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("..%252f..%252fetc", "../../etc"),
        ("%2e%2e%2f", "../"),
        ("&lt;script&gt;", "<script>"),
        ("&#x3c;img&#62;", "<img>"),
        ("\uff33\uff25\uff2c\uff25\uff23\uff34", "SELECT"),
        ("se\u200blect", "select"),
        ("\u0455\u0435l\u0435\u0441t", "select"),  # Cyrillic look-alikes
        ("%2\uff45%2\uff45/", "../"),  # a full-width escape
        ("UNION/**/SELECT", "UNION SELECT"),
        ("100% sure & done", "100% sure & done"),
        ("plain text", "plain text"),
    ],
)
def test_normalise(raw, normalised):
    assert normalise(raw) == normalised


def test_query_plus_is_a_blank_only_in_queries():
    assert normalise("a+b", plus=True) == "a b"
    assert normalise("a+b") == "a+b"


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?<=a)b", "(?!a)b", "(", "x" * 2001])
def test_patterns_re2_cannot_run_in_linear_time_are_refused(pattern):
    with pytest.raises(ValueError):
        check_pattern(pattern)


def test_an_operator_pattern_runs_in_linear_time():
    rule = Rule("custom", "custom", "(a+)+$")
    matcher = Matcher([rule])
    started = time.process_time()
    assert matcher.matching("a" * 200_000 + "!") == []
    assert matcher.matching("!" + "a" * 200_000) == [rule]
    # A backtracking engine needs exponential time here; RE2 a few milliseconds.
    assert time.process_time() - started < 1.0


def test_a_rule_set_finds_an_attack_at_the_end_of_a_long_input():
    plugin = make_plugin("injection_protection", ALL)
    filler = " ".join(f"word{i} and some text, number {i}" for i in range(40_000))
    request = make_request(body=(filler + " ' OR '1'='1").encode())
    with pytest.raises(PluginRejection):
        plugin.pre_request(request)


def test_plugins_with_the_same_rules_share_one_compiled_rule_set():
    first = make_plugin("injection_protection", ALL)
    second = make_plugin("injection_protection", ALL)
    assert first.matchers["body"] is second.matchers["body"]
    only_sql = make_plugin(
        "injection_protection", {**ALL, "predefined_injections": [{"type": "sql"}]}
    )
    assert {rule.kind for rule in only_sql.matchers["body"].rules} == {"sql"}


def test_a_block_reports_the_first_finding_and_log_only_every_one():
    body = json.dumps({"a": "DROP TABLE users", "b": "<script>alert(1)</script>"}).encode()
    request = make_request(body=body)
    with pytest.raises(PluginRejection):
        make_plugin("injection_protection", ALL).pre_request(request)
    assert request.findings == [Finding("injection_protection", "sql", "blocked")]
    request = make_request(body=body)
    make_plugin("injection_protection", {**ALL, "action": "log_only"}).pre_request(request)
    assert {(f.kind, f.action) for f in request.findings} == {("sql", "logged"), ("xss", "logged")}


def test_nosql_operators_are_found_as_keys():
    request = make_request(body=json.dumps({"role": {"$ne": "user"}}).encode())
    with pytest.raises(PluginRejection):
        make_plugin("injection_protection", ALL).pre_request(request)
    assert request.findings == [Finding("injection_protection", "nosql", "blocked")]


def sanitiser(**settings):
    return make_plugin(
        "code_sanitation",
        {"apply_all_languages": True, "action": "sanitize", **ALL, **settings},
    )


def test_sanitize_rewrites_query_headers_and_text_bodies():
    request = make_request(
        headers={"X-Note": "hi <script>", "Content-Length": "30", "X-API-Key": "<script>"},
        body=b"please run eval(input()) now",
    )
    request.query_string = "q=%3Cscript%3Ex&page=2"
    sanitiser().pre_request(request)
    assert request.query_string == "q=XXXXXXX%3Ex&page=2"
    assert request.headers["X-Note"] == "hi XXXXXXX>"
    assert request.headers["X-API-Key"] == "<script>"  # the gateway's credential, never content
    assert request.body == b"please run XXXXXinput()) now"
    assert request.headers["Content-Length"] == str(len(request.body))
    assert {f.action for f in request.findings} == {"sanitized"}


def test_sanitize_replaces_an_encoded_fragment_in_its_decoded_form():
    body = json.dumps({"c": "%3Cscript%3Ealert(1)", "ok": "fine"}).encode()
    request = make_request(body=body)
    sanitiser(sanitize_char="*").pre_request(request)
    assert json.loads(request.body) == {"c": "*******>alert(1)", "ok": "fine"}
    assert request.json_body() == {"c": "*******>alert(1)", "ok": "fine"}


def test_sanitize_refuses_an_attack_in_the_path():
    request = make_request(path="/files/<script>alert(1)</script>")
    with pytest.raises(PluginRejection) as refused:
        sanitiser().pre_request(request)
    assert refused.value.status == 400
    assert request.findings == [Finding("code_sanitation", "javascript", "blocked")]


@pytest.mark.parametrize(
    ("threshold", "text", "found"),
    [
        (0.8, "two bombs", True),
        (0.8, "a bommb", True),
        (0.8, "a b0mb", True),
        (0.8, "boom", False),
        (0.8, "bombay", False),
        (1.0, "bombs", False),
        (1.0, "BOMB!", True),
        (0.8, "nerve agents", True),
        (0.8, "nerve damage from agents", False),
    ],
)
def test_keywords_match_words_by_levenshtein_similarity(threshold, text, found):
    matcher = KeywordMatcher(["bomb", "nerve agent"], threshold)
    assert (matcher.first(text) is not None) is found


USER_HI = {"role": "user", "content": "hi"}


def moderation(**settings):
    return make_plugin(
        "prompt_moderation", {"keywords": ["bomb"], "actions": {"type": "block"}, **settings}
    )


@pytest.mark.parametrize(
    ("body", "roles", "refused"),
    [
        ({"model": "m", "input": "a bomb"}, ["user"], True),  # Responses API
        ({"model": "m", "system": "bomb", "messages": [USER_HI]}, ["user"], False),
        ({"model": "m", "system": "bomb", "messages": [USER_HI]}, None, True),
        ({"model": "m", "messages": [{"role": "assistant", "content": "bomb"}]}, ["user"], False),
        ({"model": "m", "messages": [{"role": "assistant", "content": "bomb"}]}, None, True),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"text": "a bomb"}]}]},
            None,
            True,
        ),
        ({"note": "a bomb"}, ["user"], True),  # not an LLM request: the whole body
    ],
)
def test_prompt_moderation_reads_the_messages_of_the_configured_roles(body, roles, refused):
    """Every role by default; only the configured ones when the operator narrows them."""
    request = make_request(body=json.dumps(body).encode())
    plugin = moderation() if roles is None else moderation(roles=roles)
    if refused:
        with pytest.raises(PluginRejection) as answer:
            plugin.pre_request(request)
        assert (answer.value.status, answer.value.message) == (403, "Content blocked")
        assert request.findings == [Finding("prompt_moderation", "keyword", "blocked")]
    else:
        plugin.pre_request(request)
        assert request.findings == []


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("injection_protection", ALL),
        ("code_sanitation", {**ALL, "apply_all_languages": True}),
        ("prompt_moderation", {"keywords": ["bomb", "ransomware"], "actions": {"type": "block"}}),
    ],
)
def test_the_bench_4k_chat_prompt_passes_every_detector(name, settings):
    request = make_request(body=json.dumps(CHAT_4K_REQUEST).encode())
    make_plugin(name, settings).pre_request(request)
    assert request.findings == []


def test_the_strings_of_a_json_body_are_scanned_joined_first_anchors_included():
    rules = [Rule("template", "exact", "^\\s*constructor\\s*$"), Rule("c", "c", "^debug=true$")]
    matcher = Matcher(rules)
    assert matcher.may_match_one_of("a\nconstructor\nb")
    assert matcher.may_match_one_of("x\ndebug=true")
    assert not matcher.may_match_one_of("a constructor\nof bridges")
    absolute = Matcher([Rule("c", "c", "\\Adebug\\z")])
    assert absolute.may_match_one_of("anything")  # cannot be joined: every text is scanned


def test_an_attack_deep_in_a_large_json_body_is_found():
    records = [{"id": i, "name": f"user{i}", "city": "Oslo"} for i in range(20_000)]
    records[-1]["name"] = "constructor"
    request = make_request(body=json.dumps(records).encode())
    with pytest.raises(PluginRejection):
        make_plugin("injection_protection", ALL).pre_request(request)
    assert request.findings == [Finding("injection_protection", "template", "blocked")]
