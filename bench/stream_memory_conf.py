"""gunicorn configuration of `bench.stream_memory`: the gateway's own configuration, tracemalloc
started on request in a worker, and a snapshot of the worker's traced memory written on request.

A request to `$STREAM_MEMORY_PATH` (any host) is seen by the worker that reads it before it is
served (the admin plane then answers it 404): `?start` starts tracemalloc (after the warm-up:
tracing from the start, with many frames, slows the start-up past the bench's timeouts); any
other query collects garbage and dumps a snapshot to `$STREAM_MEMORY_DIR/<query>.snapshot`.
"""

import gc
import os
import tracemalloc
from pathlib import Path

exec((Path(__file__).resolve().parent.parent / "gateway_project/gunicorn.conf.py").read_text())

SNAPSHOT_PATH = os.environ["STREAM_MEMORY_PATH"]  # bench/stream_memory.py's SNAPSHOT_PATH
FRAMES = int(os.environ.get("STREAM_MEMORY_FRAMES", "1"))


def pre_request(worker, req) -> None:
    if req.path == SNAPSHOT_PATH and req.query == "start":
        tracemalloc.start(FRAMES)
    elif req.path == SNAPSHOT_PATH:
        gc.collect()
        name = f"{req.query or 'snapshot'}.snapshot"
        tracemalloc.take_snapshot().dump(str(Path(os.environ["STREAM_MEMORY_DIR"]) / name))
