"""bench.icount counts a row's requests alone: a real gunicorn + gevent worker under callgrind."""

from __future__ import annotations

import contextlib
import shutil

import pytest

from bench import icount, procs

pytestmark = pytest.mark.skipif(
    not shutil.which("valgrind") or not shutil.which("gcc"),
    reason="needs valgrind and gcc (make -C bench icount-deps)",
)


def test_each_row_is_counted_apart_and_the_counts_agree(tmp_path):
    library = icount.build_library(tmp_path)
    with procs.supervised(), contextlib.ExitStack() as stack:
        floor = icount.FLOORS[2]  # stock gunicorn + gevent answering alone
        port = icount.start_floor(floor, 0, tmp_path, library, stack, warmup=10, requests=30)
        row = icount.Row(floor.name, port, icount.headers("floor.localhost"))
        first = icount.count(row, tmp_path / floor.name, 1, warmup=10, counted=30)
        second = icount.count(row, tmp_path / floor.name, 2, warmup=10, counted=30)
    # gunicorn and gevent answering a small POST: hundreds of thousands of instructions, the
    # same for every row of the same requests (the warm-up and the set-up are not counted).
    assert 100_000 < first < 5_000_000
    assert abs(second - first) / first < 0.05
