"""The labelled corpus through the real plugins, on both splits: on `train`, >= 97 % of the
attacks of each enabled type caught; on `held-out` (never tuned on), >= 97 % of each plugin's
attacks caught with its defaults; on both, <= 1 % of the benign samples refused."""

from __future__ import annotations

import json

import pytest

from tests.corpus.runner import (
    DETECTORS,
    HELD_OUT,
    SPLITS,
    TRAIN,
    Detector,
    false_alarm_ids,
    load,
    measure,
)

MIN_DETECTION = 0.97
MAX_FALSE_ALARMS = 0.01
DEFAULTS = "all (defaults)"


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


def test_the_held_out_split_is_apart_from_the_training_one():
    for name in ("injection", "code", "moderation", "benign"):
        train = {json.dumps(s["request"], sort_keys=True) for s in load(name, TRAIN)}
        held_out = {json.dumps(s["request"], sort_keys=True) for s in load(name, HELD_OUT)}
        assert held_out
        assert not train & held_out  # no request in both
    assert len(load("injection", HELD_OUT)) >= 60
    assert len(load("code", HELD_OUT)) >= 25
    assert len(load("moderation", HELD_OUT)) >= 30
    assert len(load("benign", HELD_OUT)) >= 100


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("detector", DETECTORS, ids=lambda d: d.plugin)
def test_detection_and_false_alarms(detector: Detector, split: str):
    rows = list(measure(detector, split))
    benign = len(load("benign", split))
    for row in rows:
        assert row.attacks or split == HELD_OUT, row
        if split == TRAIN or row.type == DEFAULTS:
            assert row.caught / row.attacks >= MIN_DETECTION, row
    assert len(false_alarm_ids(detector, split)) / benign <= MAX_FALSE_ALARMS
