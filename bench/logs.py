"""Progress lines of the benchmark, on stderr so that stdout carries only the report."""

import sys
import time


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
