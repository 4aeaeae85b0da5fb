"""CPU seconds and peak RSS of a set of processes while a measurement runs (psutil)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import psutil

SAMPLE_INTERVAL_SECONDS = 0.1


@dataclass
class Usage:
    cpu_seconds: float
    peak_rss_mb: float


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class ResourceSampler:
    """Context manager: CPU used between enter and exit and the peak of the summed RSS.

    `pids` is called at every sample, so workers started during the run are included.
    """

    def __init__(self, pids: Callable[[], list[int]]) -> None:
        self.pids = pids
        self.start_cpu: dict[int, float] = {}
        self.last_cpu: dict[int, float] = {}
        self.peak_rss = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        rss = 0
        for pid in self.pids():
            try:
                process = psutil.Process(pid)
                cpu = _cpu_seconds(process)
                rss += process.memory_info().rss
            except psutil.Error:
                continue
            self.start_cpu.setdefault(pid, cpu)
            self.last_cpu[pid] = cpu
        self.peak_rss = max(self.peak_rss, rss)

    def _loop(self) -> None:
        while not self.stopping.wait(SAMPLE_INTERVAL_SECONDS):
            self._sample()

    def __enter__(self) -> ResourceSampler:
        self._sample()
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self.thread.join()
        self._sample()

    def usage(self) -> Usage:
        cpu = sum(self.last_cpu[pid] - self.start_cpu[pid] for pid in self.last_cpu)
        return Usage(cpu_seconds=round(cpu, 3), peak_rss_mb=round(self.peak_rss / 2**20, 1))
