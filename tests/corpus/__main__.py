"""`python -m tests.corpus` (make corpus): print the corpus table and the false alarms."""

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
    from tests.corpus.runner import DETECTORS, cpu_per_request, false_alarm_ids, measure, table

    rows = [row for detector in DETECTORS for row in measure(detector)]
    print(table(rows))
    for detector in DETECTORS:
        ids = false_alarm_ids(detector)
        if ids:
            print(f"\n{detector.plugin} false alarms: {', '.join(ids)}")
    body = compact_json(CHAT_4K_REQUEST).encode()
    print(f"\nCPU per request on the bench's chat4k body ({len(body)} bytes), default settings:")
    for detector in DETECTORS:
        print(f"- {detector.plugin}: {cpu_per_request(detector, body) * 1e6:.0f} µs")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
