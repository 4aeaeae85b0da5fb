"""wrk load runs: a generated Lua script (method, body, headers, non-2xx count, JSON summary)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.config import Workload

MARKER = "BENCH_JSON "
PERCENTILES = (50, 75, 90, 95, 99, 99.9)

# Counts answers outside 2xx per thread (wrk itself only counts status >= 400), and prints
# the summary and latency percentiles (microseconds) as one JSON line after the run.
LUA_FOOTER = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  local p = {}
  for _, q in ipairs({%s}) do
    table.insert(p, string.format('"%%s":%%d', tostring(q), latency:percentile(q)))
  end
  io.write(string.format(
    '%s{"requests":%%d,"duration_us":%%d,"bytes":%%d,"non2xx":%%d,' ..
    '"connect":%%d,"read":%%d,"write":%%d,"timeout":%%d,"mean_us":%%f,"max_us":%%d,' ..
    '"percentiles_us":{%%s}}\n',
    summary.requests, summary.duration, summary.bytes, bad, e.connect, e.read, e.write,
    e.timeout, latency.mean, latency.max, table.concat(p, ",")))
end
"""


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: run `make -C bench deps` (apt-get)")
    return found


def wrk_version() -> str:
    result = subprocess.run([wrk_binary(), "-v"], capture_output=True, text=True)
    return (result.stdout + result.stderr).split()[1]


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal here


def lua_script(workload: Workload, headers: dict[str, str]) -> str:
    lines = [f"wrk.method = {lua_string(workload.method)}"]
    if workload.body:
        lines.append(f"wrk.body = {lua_string(workload.body)}")
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    percentiles = ", ".join(str(q) for q in PERCENTILES)
    return "\n".join(lines) + LUA_FOOTER % (percentiles, MARKER)


@dataclass
class WrkResult:
    """One wrk run; latencies in milliseconds."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    mean_ms: float
    max_ms: float
    percentiles_ms: dict[str, float]

    @property
    def ok_rps(self) -> float:
        """Requests per second answered with 2xx (failures do not count as throughput)."""
        return (self.requests - self.non2xx) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    def to_dict(self) -> dict:
        return {**asdict(self), "ok_rps": round(self.ok_rps, 1)}


def parse_output(stdout: str) -> WrkResult:
    line = next((ln for ln in stdout.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{stdout[-2000:]}")
    data = json.loads(line[len(MARKER) :])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        non2xx=data["non2xx"],
        socket_errors=sum(data[kind] for kind in ("connect", "read", "write", "timeout")),
        mean_ms=data["mean_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        percentiles_ms={q: us / 1000 for q, us in data["percentiles_us"].items()},
    )


def run_wrk(url: str, script: Path, *, connections: int, seconds: int, threads: int) -> WrkResult:
    """Load `url` with `connections` keep-alive connections for `seconds` (loopback only)."""
    args = [
        wrk_binary(),
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 30)
    if result.returncode:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-1000:]}")
    return parse_output(result.stdout)
