"""The machine and software versions a result was measured with."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from bench.nginx import nginx_version
from bench.wrk import wrk_version

PACKAGES = ("django", "gunicorn", "gevent", "requests", "py-spy")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, str | int]:
    info: dict[str, str | int] = {
        "cores": os.cpu_count() or 0,
        "cpu_model": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    for package in PACKAGES:
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["nginx"] = nginx_version()
    info["wrk"] = wrk_version()
    return info
