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
    from tests.corpus.runner import DETECTORS, false_alarm_ids, measure, table

    rows = [row for detector in DETECTORS for row in measure(detector)]
    print(table(rows))
    for detector in DETECTORS:
        ids = false_alarm_ids(detector)
        if ids:
            print(f"\n{detector.plugin} false alarms: {', '.join(ids)}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
