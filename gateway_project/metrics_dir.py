"""The gunicorn master's directory of Prometheus multiprocess files (prometheus-client)."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_NAME = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client in every worker


@dataclass
class MetricsDirectory:
    """Where each worker keeps its metric values (mmap files), summed at scrape time."""

    path: Path
    owned: bool  # made by us (removed at exit), not given by the operator

    @classmethod
    def prepare(cls, given: str) -> MetricsDirectory:
        """The given directory emptied (files of an earlier run would be counted), or a new
        temporary one; exported so that the workers forked later write there."""
        if given:
            path, owned = Path(given), False
            path.mkdir(parents=True, exist_ok=True)
            for stale in path.glob("*.db"):
                stale.unlink()
        else:
            path, owned = Path(tempfile.mkdtemp(prefix="gateway-metrics-")), True
        os.environ[ENV_NAME] = str(path)
        return cls(path, owned)

    def worker_exited(self, pid: int) -> None:
        """prometheus-client's cleanup for a dead process: its live gauges' files go."""
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, str(self.path))

    def remove(self) -> None:
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)
