"""Run a function in a forked child of the test process and read back the integer it returns."""

from __future__ import annotations

import os
from collections.abc import Callable


def in_forked_child(work: Callable[[], int]) -> int:
    """`work()` in a forked child, or 0 when it raised there."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        try:
            answer = work()
        except Exception:
            answer = 0
        os.write(writer, str(answer).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        answer = int(pipe.read())
    os.waitpid(pid, 0)
    return answer
