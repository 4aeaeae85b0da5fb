"""`python -m tests.corpus` (make corpus): print the corpus table of both splits, the false
alarms and the misses."""

from __future__ import annotations

import logging
import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings.base")
    django.setup()
    logging.getLogger("plugins.detection").setLevel(logging.ERROR)
    from bench.config import CHAT_4K_REQUEST, compact_json
    from tests.corpus.runner import (
        DETECTORS,
        SPLITS,
        cpu_per_request,
        false_alarm_ids,
        measure,
        missed_ids,
        table,
    )

    rows = [row for split in SPLITS for detector in DETECTORS for row in measure(detector, split)]
    print(table(rows))
    for split in SPLITS:
        for detector in DETECTORS:
            for what, ids in (
                ("false alarms", false_alarm_ids(detector, split)),
                ("missed", missed_ids(detector, split)),
            ):
                if ids:
                    print(f"\n{detector.plugin} {split} {what}: {', '.join(ids)}")
    body = compact_json(CHAT_4K_REQUEST).encode()
    print(f"\nCPU per request on the bench's chat4k body ({len(body)} bytes), default settings:")
    for detector in DETECTORS:
        print(f"- {detector.plugin}: {cpu_per_request(detector, body) * 1e6:.0f} µs")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
