"""py-spy profile of a gateway worker under load: flame graph, raw stacks, top functions."""

from __future__ import annotations

import re
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.config import RESULTS_DIR, WORKLOADS, BenchConfig
from bench.logs import log
from bench.measure import Measurement
from bench.scenarios import GATEWAY_KEYS, Target, shared_key
from bench.servers import Servers
from bench.wrk import lua_script, run_wrk

PROFILE_LIMIT_BYTES = 2 * 2**20

# "function (path/to/file.py:123)" -> "function (path/to/file.py)"
LINE_NUMBER = re.compile(r":\d+\)$")
GATEWAY = "gateway (proxy, plugins, gateways, keys)"
OTHER = "other (stdlib, ...)"
PACKAGE_PREFIXES = {
    GATEWAY: ("proxy/", "plugins/", "gateways/", "keys/"),
    "django": ("django/",),
    "gevent / greenlet": ("gevent/", "greenlet/"),
    "gunicorn": ("gunicorn/",),
    "requests / urllib3": ("requests/", "urllib3/"),
    "redis client": ("redis/",),
}


def py_spy(python: Path) -> str:
    return str(python.parent / "py-spy")


def record(python: Path, pid: int, seconds: int, output: Path, fmt: str) -> None:
    """`py-spy record` of `pid` for `seconds` into `output` in format `fmt` (flamegraph, raw)."""
    args = [py_spy(python), "record", "--pid", str(pid), "-d", str(seconds), "-r", "100"]
    args += ["--format", fmt, "-o", str(output)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode or not output.exists():
        raise RuntimeError(f"py-spy failed: {result.stderr[-1000:]}")


def parse_raw(text: str) -> list[tuple[list[str], int]]:
    """Collapsed stacks ("a;b;c 12") as (frames without line numbers, sample count)."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]
            stacks.append((frames, int(count)))
    return stacks


def category(frame: str) -> str:
    for name, prefixes in PACKAGE_PREFIXES.items():
        if any(f"({prefix}" in frame for prefix in prefixes):
            return name
    return OTHER


def caller(frames: list[str]) -> str:
    """The nearest caller of the leaf from another package (the stdlib is looked through)."""
    leaf = category(frames[-1])
    for frame in reversed(frames[:-1]):
        if category(frame) not in (leaf, OTHER):
            return frame
    return frames[-2] if len(frames) > 1 else frames[-1]


def callers_tables(stacks: list[tuple[list[str], int]], leaves: list[str], total: int) -> list[str]:
    """For each function in `leaves`: which other packages' code spends its own time."""
    lines = []
    for leaf in leaves:
        counts: Counter = Counter()
        for frames, count in stacks:
            if frames[-1] == leaf:
                counts[caller(frames)] += count
        lines += top_table(f"Own time of {leaf}, by caller", counts, total, 5)
    return lines


def top_table(title: str, counts: Counter, total: int, limit: int) -> list[str]:
    lines = [title, "-" * len(title)]
    for name, count in counts.most_common(limit):
        lines.append(f"{100 * count / total:6.1f}%  {count:6d}  {name}")
    return [*lines, ""]


def summarise(stacks: list[tuple[list[str], int]], limit: int = 25) -> str:
    """Top functions by own time and by inclusive time, and own time per package."""
    total = sum(count for _, count in stacks) or 1
    own: Counter = Counter()
    inclusive: Counter = Counter()
    packages: Counter = Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        packages[category(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    ours = Counter({name: n for name, n in inclusive.items() if category(name) == GATEWAY})
    header = [f"py-spy samples: {total} (100 Hz, one gunicorn worker, active threads only)", ""]
    return "\n".join(
        header
        + top_table("Own time by package", packages, total, limit)
        + top_table(f"Top {limit} functions by own time", own, total, limit)
        + callers_tables(stacks, [name for name, _ in own.most_common(3)], total)
        + top_table(f"Top {limit} gateway functions by inclusive time", ours, total, limit)
        + top_table(f"Top {limit} functions by inclusive time", inclusive, total, limit)
    )


def profile_target(targets: list[Target], rows: list[Measurement]) -> Target | None:
    """The gateway row with the most plugins whose chat workload was measured without errors."""
    clean = {r.target for r in rows if r.workload == "chat" and r.status == "ok"}
    gateways = [t for t in targets if t.key in GATEWAY_KEYS and t.key in clean]
    return gateways[-1] if gateways else None


def profile_gateway(
    config: BenchConfig, target: Target, api_key: str, worker: int, tmp: Path
) -> str:
    """Record one worker under chat load at c=16: SVG flame graph, then raw stacks to summarise."""
    workload = next(w for w in WORKLOADS if w.name == "chat")
    script = tmp / "profile.lua"
    script.write_text(lua_script(workload, target.headers(api_key)))
    seconds = config.profile_seconds
    url = f"http://127.0.0.1:{target.port}{workload.path}"
    with ThreadPoolExecutor(max_workers=1) as executor:
        load = executor.submit(
            run_wrk, url, script, connections=16, seconds=2 * seconds + 2, threads=2
        )
        time.sleep(0.5)
        svg, raw = RESULTS_DIR / "profile.svg", tmp / "profile-stacks.txt"
        record(config.python, worker, seconds, svg, "flamegraph")
        record(config.python, worker, seconds, raw, "raw")
        load.result()
    if svg.stat().st_size > PROFILE_LIMIT_BYTES:
        log(f"profile.svg is {svg.stat().st_size} bytes, over the 2 MB budget")
    summary = summarise(parse_raw(raw.read_text()))
    title = f"{target.label}, POST {workload.path}, c=16, worker pid {worker}, {seconds} s"
    (RESULTS_DIR / "profile-top.txt").write_text(f"{title}\n{summary}\n")
    return title


def run_profile(
    config: BenchConfig, servers: Servers, targets: list[Target], rows: list[Measurement], tmp: Path
) -> str:
    """Profile the gateway after the measurements; returns what the report says about it."""
    for stale in RESULTS_DIR.glob("profile*"):
        stale.unlink()  # never leave another run's profile next to these results
    target = profile_target(targets, rows)
    if target is None or servers.gateway is None:
        return "not recorded: no gateway row ran cleanly"
    try:
        title = profile_gateway(
            config, target, shared_key(targets), servers.gateway.worker_pids()[0], tmp
        )
    except (RuntimeError, subprocess.SubprocessError) as exc:
        log(f"profile failed: {exc}")
        return f"not recorded: {exc}"
    return f"{title}: `profile.svg` (flame graph), `profile-top.txt` (top functions)."
