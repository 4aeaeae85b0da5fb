"""gunicorn configuration of `bench.icount`: whole requests counted in instructions (callgrind).

With ICOUNT_GATEWAY set it is the gateway's own configuration (gateway_project/gunicorn.conf.py)
plus the hook below; otherwise only the hook (the floor apps get `-k gevent` on the command
line). On the measured path (ICOUNT_PATH), each row sends ICOUNT_WARMUP requests, then
ICOUNT_REQUESTS more: the counting starts after the warm-up and stops after the last of them,
when callgrind writes the row's count (one dump per row, numbered from 1).
"""

import ctypes
import os
from pathlib import Path

if os.environ.get("ICOUNT_GATEWAY"):
    exec((Path(__file__).resolve().parent.parent / "gateway_project/gunicorn.conf.py").read_text())

MEASURED_PATH = os.environ.get("ICOUNT_PATH", "/v1/chat/completions")
WARMUP = int(os.environ.get("ICOUNT_WARMUP", "0"))
REQUESTS = int(os.environ.get("ICOUNT_REQUESTS", "1"))
_served = [0]
_library: list[ctypes.CDLL] = []


def post_request(worker, req, environ, resp) -> None:
    """Start callgrind's counting after a row's warm-up; stop and dump it after its requests."""
    if environ.get("PATH_INFO") != MEASURED_PATH:
        return  # the admin API configuring the gateway
    _served[0] += 1
    step = _served[0] % (WARMUP + REQUESTS)
    if not _library:
        _library.append(ctypes.CDLL(os.environ["ICOUNT_LIBRARY"]))
    if step == WARMUP:
        _library[0].icount_start()
    elif step == 0:
        _library[0].icount_stop()
