"""The labelled corpus through the real plugins: >= 97 % of the attacks of each enabled type
caught, <= 1 % of the benign samples refused with the default settings."""

from __future__ import annotations

import pytest

from tests.corpus.runner import DETECTORS, Detector, false_alarm_ids, load, measure

MIN_DETECTION = 0.97
MAX_FALSE_ALARMS = 0.01


def test_the_corpus_holds_trustgates_payloads_evasions_and_enough_benign_samples():
    injection = load("injection")
    assert {s["type"] for s in injection} == set(DETECTORS[0].types)
    sources = {s["source"] for s in injection}
    assert {"trustgate", "evasion:double-url-encoded-query", "evasion:fullwidth"} <= sources
    assert (
        sum(s["source"] == "trustgate" for s in injection) == 94
    )  # every payload of TrustGate's injection_protection_test.go
    assert (
        sum(s["source"] == "trustgate" for s in load("code")) == 10
    )  # and of code_sanitation_test.go
    assert len(load("benign")) >= 200


@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.plugin)
def test_detection_and_false_alarms_per_type(detector: Detector):
    rows = list(measure(detector))
    benign = len(load("benign"))
    for row in rows:
        assert row.attacks, row
        assert row.caught / row.attacks >= MIN_DETECTION, row
    assert len(false_alarm_ids(detector)) / benign <= MAX_FALSE_ALARMS
