"""The masking engine through real plugin instances: each entity with a value that counts, one
that fails its check and the context-word rescue; rules, keywords, fuzzy keywords; streams."""

from __future__ import annotations

import json

import pytest
from requests.structures import CaseInsensitiveDict

from plugins.builtin.data_masking import DataMaskingPlugin
from plugins.builtin.data_masking.entities import BY_NAME, NAMES
from plugins.builtin.data_masking.masker import Hits, Masker
from plugins.sdk.context import Finding, ResponseContext
from plugins.sdk.sse import SSEParser
from plugins.sdk.streams.rewriter import stream_rewriter
from tests.plugins.data_masking.examples import EXAMPLES
from tests.plugins.helpers import make_plugin, make_request


def masked_text(text: str, stage: str = "pre_request", **settings) -> str:
    plugin = make_plugin("data_masking", settings, stage=stage)
    request = make_request(body=text.encode(), headers={"Content-Type": "text/plain"})
    plugin.pre_request(request)
    return request.body.decode()


def only(entity: str) -> dict:
    return {"predefined_entities": [{"entity": entity}]}


def test_every_entity_has_examples():
    assert set(EXAMPLES) == set(NAMES)
    assert len(NAMES) >= 50


@pytest.mark.parametrize("entity", NAMES)
def test_entity_value_is_masked(entity):
    value = EXAMPLES[entity][0]
    assert BY_NAME[entity].mask in masked_text(f"see {value} here", **only(entity))


@pytest.mark.parametrize("entity", NAMES)
def test_entity_value_failing_its_check_or_format_is_kept(entity):
    text = f"see {EXAMPLES[entity][1]} here"
    assert masked_text(text, **only(entity)) == text


@pytest.mark.parametrize("entity", [name for name in NAMES if EXAMPLES[name][2]])
def test_a_context_word_close_before_rescues_a_failed_check(entity):
    assert BY_NAME[entity].mask in masked_text(f"the {EXAMPLES[entity][2]} ok", **only(entity))


def test_a_context_word_far_away_does_not_rescue():
    text = "card " + "x" * 60 + " 4111 1111 1111 1112"
    assert masked_text(text, **only("credit_card")) == text


def test_trustgate_order_number_is_just_a_number():
    text = "order 4111 1111 1111 1112 shipped"
    assert masked_text(text, apply_all=True) == text


def test_entity_masks_can_be_chosen_and_preserve_length():
    settings = {"predefined_entities": [{"entity": "email", "mask_with": "<e>"}]}
    assert masked_text("to a@b.io", **settings) == "to <e>"
    settings = {"predefined_entities": [{"entity": "ssn", "preserve_len": True}]}
    assert masked_text("ssn 536-22-1234.", **settings) == "ssn ***********."


def test_apply_all_keeps_an_entity_item_mask():
    settings = {"apply_all": True, "predefined_entities": [{"entity": "email", "mask_with": "@"}]}
    assert masked_text("a@b.io 536-22-1234", **settings) == "@ *****"


def rule(pattern: str, kind: str = "keyword", mask: str = "[X]", **extra) -> dict:
    return {"pattern": pattern, "type": kind, "mask_with": mask, **extra}


def test_regex_rules_run_on_re2_after_entities():
    settings = {
        "predefined_entities": [{"entity": "email"}],
        "rules": [rule(r"ACME-\d{6}", "regex", "[ACME_ID]"), rule(r"MASKED", "regex", "!")],
    }
    assert masked_text("ACME-123456 to a@b.io", **settings) == "[ACME_ID] to [!_EMAIL]"
    preserved = {"rules": [rule(r"ACME-\d{6}", "regex", preserve_len=True)]}
    assert masked_text("id ACME-123456.", **preserved) == "id ***********."


def test_keywords_then_fuzzy_keywords_per_word():
    settings = {"rules": [rule("password", mask="[P]")], "max_edit_distance": 1}
    text = "password, passwrd, pasword, passw0rd, passwords, pass, pwd"
    assert masked_text(text, **settings) == "[P], [P], [P], [P], [P]s, pass, pwd"


def test_fuzzy_matching_honours_max_edit_distance_and_similarity():
    text = "pasword and pssword and psswrd"  # one, one and two edits from "password"
    loose = {"rules": [rule("password")], "max_edit_distance": 2, "similarity_threshold": 0.7}
    assert masked_text(text, **loose) == "[X] and [X] and [X]"
    # psswrd: 2 edits in 8 characters is a similarity of 0.75, under the default 0.8.
    assert masked_text(text, rules=[rule("password")], max_edit_distance=2) == (
        "[X] and [X] and psswrd"
    )
    assert masked_text(text, rules=[rule("password")], max_edit_distance=0) == text


def test_width_and_invisible_characters_always_fold_and_normalize_input_folds_case():
    text = "my Ｓｅｃｒｅｔ and SE\u200bCRET and ｓｅ\u00adｃｒｅｔ here"
    assert masked_text(text, rules=[rule("secret")], max_edit_distance=0) == (
        "my Ｓｅｃｒｅｔ and SE\u200bCRET and [X] here"
    )
    assert masked_text(text, rules=[rule("secret")], normalize_input=True) == (
        "my [X] and [X] and [X] here"
    )


def test_findings_name_the_entity_never_the_value():
    plugin = make_plugin("data_masking", {"apply_all": True, "rules": [rule("alpha")]})
    request = make_request(body=b"a@b.io alpha a@b.io", headers={"Content-Type": "text/plain"})
    plugin.pre_request(request)
    assert request.findings == [
        Finding("data_masking", "email", "masked"),
        Finding("data_masking", "keyword_rule_1", "masked"),
    ]
    assert "a@b.io" not in repr(request.findings) + repr(request.verdicts)


def test_json_body_cache_follows_the_masked_body():
    plugin = make_plugin("data_masking", only("email"))
    request = make_request(body=b'{"to": "a@b.io"}', headers={"Content-Type": "application/json"})
    assert request.json_body() == {"to": "a@b.io"}
    plugin.pre_request(request)
    assert request.json_body() == {"to": "[MASKED_EMAIL]"}


# Streams, through the framework that feeds deltas to the plugins' filters.


def rewrite(plugin, request, pieces: list[str], content_type: str) -> bytes:
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": content_type}))
    rewriter = stream_rewriter((plugin,), request, response)

    def chunks():
        for piece in pieces:
            yield piece.encode()
        return True

    return b"".join(rewriter.rewrite(chunks()))


def openai_chunk(text: str, finish: str | None = None) -> str:
    choice = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    return f"data: {json.dumps({'object': 'chat.completion.chunk', 'choices': [choice]})}\n\n"


def openai_text(body: bytes) -> str:
    parser = SSEParser()
    events = parser.feed(body) + parser.finish()
    return "".join(
        choice["delta"].get("content") or ""
        for event in events
        if event.data != "[DONE]"
        for choice in event.json()["choices"]
    )


@pytest.mark.parametrize("size", [1, 3, 17])
def test_a_value_split_across_deltas_is_masked(size):
    plugin = make_plugin("data_masking", only("email"), stage="post_response")
    text = "reach me at john.doe@example.com, thanks. " * 10
    deltas = [text[i : i + size] for i in range(0, len(text), size)]
    stream = [openai_chunk(delta) for delta in deltas] + [openai_chunk("", "stop")]
    body = rewrite(plugin, make_request(), [*stream, "data: [DONE]\n\n"], "text/event-stream")
    assert openai_text(body) == text.replace("john.doe@example.com", "[MASKED_EMAIL]")
    assert b"john" not in body
    assert b"example" not in body


def test_text_far_from_a_possible_match_is_sent_at_once():
    plugin = make_plugin("data_masking", only("email"), stage="post_response")
    request = make_request()
    response = ResponseContext(200, CaseInsensitiveDict({"Content-Type": "text/plain"}))
    rewriter = stream_rewriter((plugin,), request, response)
    long_text = "word " * 200

    def chunks():
        yield long_text.encode()
        yield b"a@b.io end"
        return True

    body = rewriter.rewrite(chunks())
    first = next(body)
    assert len(first) >= len(long_text) - 256 - 5  # only a bounded tail was held back
    assert first + b"".join(body) == (long_text + "[MASKED_EMAIL] end").encode()


def test_a_context_word_sent_earlier_still_rescues_a_value_in_a_later_delta():
    plugin = make_plugin("data_masking", only("credit_card"), stage="post_response")
    pieces = ["x" * 300 + " my card ", "4111 1111 ", "1111 1112 ok"]
    body = rewrite(plugin, make_request(), pieces, "text/plain")
    assert body.decode() == "x" * 300 + " my card [MASKED_CC] ok"


def test_restoring_tokens_split_across_deltas():
    secret = "a-long-enough-hmac-secret"
    reversible = {"enabled": True, "secret": secret}
    settings = {"predefined_entities": [{"entity": "email"}], "reversible_hashing": reversible}
    pre = make_plugin("data_masking", settings)
    request = make_request(body=b"mail a@b.io", headers={"Content-Type": "text/plain"})
    pre.pre_request(request)
    token = request.body.decode().split()[1]
    assert token.startswith("<PII_EMAIL_")
    assert "a@b.io" not in request.body.decode()
    post = make_plugin("data_masking", settings, stage="post_response")
    answer = f"Sure, I wrote to {token} and {token}."
    deltas = [answer[i : i + 4] for i in range(0, len(answer), 4)]
    stream = [openai_chunk(d) for d in deltas] + [openai_chunk("", "stop"), "data: [DONE]\n\n"]
    body = rewrite(post, request, stream, "text/event-stream")
    assert openai_text(body) == "Sure, I wrote to a@b.io and a@b.io."
    assert Finding("data_masking", "reversible_hashing", "restored") in request.findings


class ExplodingMasker(Masker):
    """A masker with a bug: it raises, quoting the text, on a word."""

    def mask(self, text: str, hits: Hits, context: str = "") -> str:
        if "boom" in text:
            raise RuntimeError(f"cannot mask {text!r}")
        return super().mask(text, hits, context)


class ExplodingMaskingPlugin(DataMaskingPlugin):
    name = "data_masking_exploding"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.masker = ExplodingMasker(self.config)


@pytest.fixture
def exploding(settings):
    from gateway_project.conf import DEFAULTS
    from plugins.registry import registry

    path = f"{__name__}.ExplodingMaskingPlugin"
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], path]}
    registry.load()
    yield make_plugin("data_masking_exploding", only("email"), stage="post_response")
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


def test_a_crash_mid_stream_ends_it_with_an_error_event_and_logs_no_text(exploding, caplog):
    text = "secret a@b.io " + "x " * 200 + "boom and more"
    deltas = [text[i : i + 7] for i in range(0, len(text), 7)]
    stream = [openai_chunk(d) for d in deltas] + [openai_chunk("", "stop"), "data: [DONE]\n\n"]
    body = rewrite(exploding, make_request(), stream, "text/event-stream")
    parser = SSEParser()
    parsed = parser.feed(body) + parser.finish()
    assert parsed[-2].json() == {
        "error": {"message": "data masking failed", "type": "data_masking_exploding"}
    }
    assert parsed[-1].data == "[DONE]"
    assert b"boom" not in body
    assert b"a@b.io" not in body
    assert "data masking failed: RuntimeError" in caplog.text
    assert "cannot mask" not in caplog.text
    assert "boom" not in caplog.text
