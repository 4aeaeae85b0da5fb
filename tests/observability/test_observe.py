"""observe(): LLM usage, content findings and bounded labels, as the proxy hands them over."""

from __future__ import annotations

import time

from observability.observe import MAX_MODELS, RequestRecord, decisions, model_label, observe
from observability.rollups import gateway_key, read_minutes, rollups
from plugins.sdk.context import Finding, LLMCall
from tests.observability.conftest import lines, sample


def record(**fields) -> RequestRecord:
    return RequestRecord(
        started=time.perf_counter(),
        request_id="r-1",
        method="POST",
        path="/v1/chat/completions",
        client_ip="10.0.0.1",
        gateway="llm",
        gateway_id="00000000-0000-4000-8000-00000000a11a",
        rule="00000000-0000-4000-8000-00000000b22b",
        status=200,
        **fields,
    )


def test_llm_tokens_and_cost_are_counted_logged_and_rolled_up(db, access_log_file):
    labels = {"gateway": "llm", "provider": "openai", "model": "gpt-4o-mini"}
    prompt = sample("gateway_llm_tokens_total", **labels, kind="prompt")
    completion = sample("gateway_llm_tokens_total", **labels, kind="completion")
    cost = sample("gateway_llm_cost_total", **labels)
    llm = LLMCall("openai", "gpt-4o-mini", 14, 3, 17, 0.00125)
    observe(record(llm=llm))
    observe(record(llm=LLMCall("openai", "gpt-4o-mini")))  # no usage reported: nothing counted
    assert sample("gateway_llm_tokens_total", **labels, kind="prompt") == prompt + 14
    assert sample("gateway_llm_tokens_total", **labels, kind="completion") == completion + 3
    assert abs(sample("gateway_llm_cost_total", **labels) - cost - 0.00125) < 1e-12
    (logged, _) = lines(access_log_file)
    assert logged["llm"] == {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_tokens": 14,
        "completion_tokens": 3,
        "total_tokens": 17,
        "cost": 0.00125,
    }
    rollups.flush()
    minute = int(time.time() // 60)
    (stored,) = read_minutes([gateway_key("00000000-0000-4000-8000-00000000a11a", minute)])
    assert (stored["tok_in"], stored["tok_out"]) == (14, 3)
    assert abs(stored["cost"] - 0.00125) < 1e-12


def test_findings_map_to_decisions_and_never_carry_text(access_log_file):
    findings = [
        Finding("pii_masker", "email", "masked"),
        Finding("injection_guard", "jailbreak", "logged"),
        Finding("toxicity", "insult", "blocked"),
    ]
    verdicts = [("pii_masker", "pre_request", "continue"), ("toxicity", "pre_request", "reject")]
    item = record(findings=findings, verdicts=verdicts)
    assert decisions(item) == {
        ("pii_masker", "allowed"),
        ("pii_masker", "masked"),
        ("injection_guard", "logged"),
        ("toxicity", "rejected"),
    }
    masked = sample(
        "gateway_plugin_decisions_total", gateway="llm", plugin="pii_masker", decision="masked"
    )
    observe(item)
    assert (
        sample(
            "gateway_plugin_decisions_total", gateway="llm", plugin="pii_masker", decision="masked"
        )
        == masked + 1
    )
    (logged,) = lines(access_log_file)
    assert logged["findings"] == [
        "pii_masker:email:masked",
        "injection_guard:jailbreak:logged",
        "toxicity:insult:blocked",
    ]


def test_model_labels_are_bounded():
    for index in range(MAX_MODELS):
        assert model_label("bounded", "openai", f"model-{index}") == f"model-{index}"
    assert model_label("bounded", "openai", "one-too-many") == "other"
    assert model_label("bounded", "openai", "model-3") == "model-3"
    assert model_label("bounded", "anthropic", "x" * 101) == "other"
    assert model_label("bounded", "anthropic", "bad\nname") == "other"
