"""Run the corpus through the real detector plugins: detection per type (with only that type
enabled), false alarms on the benign samples (with the default settings, every type on), on
each split: `train` (tests/corpus/*.jsonl, what the rules were tuned on) and `held-out`
(tests/corpus/heldout/*.jsonl, written before the rules were changed and never tuned on)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from requests.structures import CaseInsensitiveDict

from plugins.base import Plugin
from plugins.detection import code_rules, injection_rules
from plugins.pipeline import PluginSpec, build_plugin
from plugins.sdk.context import PluginRejection, RequestContext

CORPUS = Path(__file__).resolve().parent
TRAIN, HELD_OUT = "train", "held-out"
SPLITS = (TRAIN, HELD_OUT)
SPLIT_DIRECTORIES = {TRAIN: CORPUS, HELD_OUT: CORPUS / "heldout"}
ALL = {"content_to_check": ["all"]}
MODERATION = {
    "keywords": ["bomb", "explosive", "ransomware", "methamphetamine", "nerve agent"],
    "regex": [
        "how to make .* explosives",
        r"(?i)\bkill (?:my|the) (?:neighbou?r|boss|wife|husband)\b",
    ],
    "actions": {"type": "block", "message": "Content blocked"},
}


@dataclass(frozen=True)
class Detector:
    """One plugin measured on one corpus file: its default settings and its per-type ones."""

    plugin: str
    corpus: str
    types: tuple[str, ...]
    default: dict[str, Any]

    def settings_for(self, kind: str) -> dict[str, Any]:
        if self.plugin == "injection_protection":
            return {**ALL, "predefined_injections": [{"type": kind, "enabled": True}]}
        if self.plugin == "code_sanitation":
            return {**ALL, "languages": [{"language": kind, "enabled": True}]}
        return self.default


DETECTORS = (
    Detector("injection_protection", "injection", injection_rules.TYPES, ALL),
    Detector("code_sanitation", "code", code_rules.LANGUAGES, {**ALL, "apply_all_languages": True}),
    Detector("prompt_moderation", "moderation", ("keyword", "regex"), MODERATION),
)


@dataclass
class Row:
    plugin: str
    split: str
    type: str
    attacks: int = 0
    caught: int = 0
    false_alarms: int = 0

    @property
    def missed(self) -> int:
        return self.attacks - self.caught


@cache
def load(name: str, split: str = TRAIN) -> tuple[dict[str, Any], ...]:
    path = SPLIT_DIRECTORIES[split] / f"{name}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def plugin(name: str, settings: dict[str, Any]) -> Plugin:
    spec = PluginSpec(str(uuid.uuid4()), "gateway", name, True, "pre_request", 1, False, settings)
    return build_plugin(spec)


def request_of(sample: dict[str, Any]) -> RequestContext:
    """The request of a sample as the proxy hands it to pre_request plugins."""
    spec = sample["request"]
    headers = CaseInsensitiveDict(spec.get("headers", {}))
    if "json" in spec:
        body = json.dumps(spec["json"], ensure_ascii=False).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = spec.get("body", "").encode()
    return RequestContext(
        request_id=sample["id"],
        method=spec.get("method", "POST"),
        path=spec.get("path", "/"),
        query_string=spec.get("query", ""),
        headers=headers,
        body=body,
        client_ip="203.0.113.7",
        gateway_id="corpus",
    )


def verdict(detector: Plugin, sample: dict[str, Any]) -> list[str]:
    """The kinds the plugin blocked the sample for (empty when it let it through)."""
    request = request_of(sample)
    try:
        detector.pre_request(request)
    except PluginRejection:
        return [finding.kind for finding in request.findings]
    return []


def measure(detector: Detector, split: str = TRAIN) -> Iterator[Row]:
    """Per type: attacks caught with only that type on; benign blocked with the defaults."""
    attacks = load(detector.corpus, split)
    benign = load("benign", split)
    default = plugin(detector.plugin, detector.default)
    alarms = [kind for sample in benign for kind in verdict(default, sample)]
    for kind in detector.types:
        row = Row(detector.plugin, split, kind, false_alarms=alarms.count(kind))
        only = plugin(detector.plugin, detector.settings_for(kind))
        for sample in (s for s in attacks if s["type"] == kind):
            row.attacks += 1
            row.caught += bool(verdict(only, sample))
        yield row
    alarmed = len(false_alarm_ids(detector, split))
    total = Row(detector.plugin, split, "all (defaults)", false_alarms=alarmed)
    for sample in attacks:
        total.attacks += 1
        total.caught += bool(verdict(default, sample))
    yield total


def false_alarm_ids(detector: Detector, split: str = TRAIN) -> list[str]:
    default = plugin(detector.plugin, detector.default)
    return [sample["id"] for sample in load("benign", split) if verdict(default, sample)]


def missed_ids(detector: Detector, split: str = TRAIN) -> list[str]:
    """The attacks the default settings let through."""
    default = plugin(detector.plugin, detector.default)
    return [sample["id"] for sample in load(detector.corpus, split) if not verdict(default, sample)]


def cpu_per_request(detector: Detector, body: bytes, runs: int = 2000) -> float:
    """CPU seconds `pre_request` takes on a POST of `body` (JSON parsing included), with the
    default settings and the headers a browser-like client sends."""
    checked = plugin(detector.plugin, detector.default)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    headers.update({"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})
    sample = {"id": "cost", "request": {"path": "/v1/chat/completions", "headers": headers}}
    requests = [request_of(sample) for _ in range(runs)]
    for request in requests:
        request.body = body
    started = time.process_time()
    for request in requests:
        checked.pre_request(request)
    return (time.process_time() - started) / runs


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"


def table(rows: list[Row]) -> str:
    """The README table (markdown); false alarms are out of the split's benign samples."""
    benign = {split: len(load("benign", split)) for split in SPLITS}
    lines = [
        "| plugin | split | type | attacks | caught | missed | detection | false alarms |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.plugin} | {row.split} | {row.type} | {row.attacks} | {row.caught} | "
            f"{row.missed} | {percent(row.caught, row.attacks)} | "
            f"{row.false_alarms} of {benign[row.split]} |"
        )
    return "\n".join(lines)
