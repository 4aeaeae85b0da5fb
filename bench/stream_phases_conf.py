"""gunicorn configuration of `bench.many_streams` with STREAM_PHASES_DIR set: when each request
of a worker reached each phase, written every second to `$STREAM_PHASES_DIR/<pid>.json`.

With STREAM_PHASES_GATEWAY set it is the gateway's own configuration plus the hooks below;
otherwise only the hooks (the floor apps get `-k gevent` on the command line). Phases, as wall
clock times per request (its connection's greenlet): `parsed` (gunicorn has read and parsed
the request), `upstream` (urllib3's urlopen, or proxy.http1's send, called), `connected` (a
new upstream connection open), `answered` (the call returned: the upstream's status and
headers read), `written` (the first body bytes handed to the client's socket).
"""

import json
import os
import time
from pathlib import Path

import gevent

if os.environ.get("STREAM_PHASES_GATEWAY"):
    exec((Path(__file__).resolve().parent.parent / "gateway_project/gunicorn.conf.py").read_text())

FLUSH_SECONDS = 1.0
_phases: dict[int, dict[str, float]] = {}
_notes = [0]


def _note(phase: str) -> None:
    _phases.setdefault(id(gevent.getcurrent()), {}).setdefault(phase, time.time())
    _notes[0] += 1


def _wrapped(owner: type, name: str, before: str | None, after: str | None) -> None:
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        if before:
            _note(before)
        result = original(*args, **kwargs)
        if after:
            _note(after)
        return result

    setattr(owner, name, wrapper)


def _flush() -> None:
    path = Path(os.environ["STREAM_PHASES_DIR"]) / f"{os.getpid()}.json"
    written = 0
    while True:
        gevent.sleep(FLUSH_SECONDS)
        if _notes[0] != written:
            written = _notes[0]
            path.write_text(json.dumps(list(_phases.values())))


def post_fork(server, worker) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")
    from gunicorn.http.wsgi import Response
    from urllib3.connection import HTTPConnection
    from urllib3.connectionpool import HTTPConnectionPool

    import proxy.http1
    from proxy.http1.pool import Origin

    _wrapped(HTTPConnectionPool, "urlopen", "upstream", "answered")
    _wrapped(HTTPConnection, "connect", None, "connected")
    _wrapped(proxy.http1, "send", "upstream", "answered")
    _wrapped(Origin, "connect", None, "connected")
    _wrapped(Response, "write", "written", None)
    gevent.spawn(_flush)


def pre_request(worker, req) -> None:
    _phases.pop(id(gevent.getcurrent()), None)  # a kept-alive connection's earlier request
    _note("parsed")
