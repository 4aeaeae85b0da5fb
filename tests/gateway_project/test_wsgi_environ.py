"""The worker's environ maker gives each request the environ gunicorn's `wsgi.create` gives it."""

from __future__ import annotations

from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger
from gunicorn.http import wsgi
from gunicorn.http.errors import ConfigurationProblem

from gateway_project.http_parser import RequestStream
from gateway_project.response_head import GatewayResponse
from gateway_project.wsgi_environ import EnvironMaker
from tests.gateway_project.test_http_parser import ACCEPTED, PEER, SERVER, Reads, head

# Per-request objects: compared by what they do, not by identity.
OBJECTS = ("wsgi.errors", "wsgi.early_hints")
SERVERS = {"tcp": SERVER, "tcp-text": "127.0.0.1:8000", "unix-socket": "/run/gateway.sock"}
MORE = {
    "unix-host-with-port": head("/", "X-A: 1").replace(b"api.localhost", b"api.localhost:8443"),
    "repeated-and-typed": head(
        "/r", "Content-Type: text/plain", "Content-Length: 2", "X-B: 1", "X-B: 2", method="POST"
    )
    + b"ok",
    "script-name-header": head("/app/x", "Script-Name: /app"),
    "no-host": b"GET /h HTTP/1.1\r\nAccept: */*\r\n\r\n",
}


def gunicorn_create(*args: Any) -> tuple[Any, dict[str, Any]]:
    """gunicorn's create as its async workers use it (they then set wsgi.multithread)."""
    response, environ = wsgi.create(*args)
    environ["wsgi.multithread"] = True
    return response, environ


def parsed(data: bytes, cfg: Config) -> tuple[Any, Reads]:
    sock = Reads([data])
    return next(iter(RequestStream(cfg, sock, PEER))), sock


def both(data: bytes, server: Any, cfg: Config) -> tuple[tuple, tuple]:
    """(response, environ, interim bytes written) from gunicorn's create and from the maker,
    each on its own parse of `data`."""
    maker = EnvironMaker(cfg)
    results = []
    for create in (
        lambda req, sock: gunicorn_create(req, sock, PEER, server, cfg),
        lambda req, sock: maker.create(req, sock, PEER, server),
    ):
        req, sock = parsed(data, cfg)
        response, environ = create(req, sock)
        results.append((response, environ, list(sock.sent)))
    return results[0], results[1]


def plain(environ: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v for k, v in environ.items() if k not in ("wsgi.input", "gunicorn.socket", *OBJECTS)
    }


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS.keys())
@pytest.mark.parametrize("data", [*ACCEPTED.values(), *MORE.values()], ids=[*ACCEPTED, *MORE])
def test_each_request_gets_gunicorns_environ(data, server):
    (theirs, their_environ, their_sent), (ours, our_environ, our_sent) = both(
        data, server, Config()
    )
    assert plain(our_environ) == plain(their_environ)
    assert set(our_environ) == set(their_environ)
    assert our_sent == their_sent  # 100 Continue when the client expects it
    assert type(theirs) is wsgi.Response
    assert type(ours) is GatewayResponse
    assert our_environ["wsgi.input"].read() == their_environ["wsgi.input"].read()


def test_a_script_name_from_the_environment_is_stripped_as_gunicorn_strips_it(monkeypatch):
    monkeypatch.setenv("SCRIPT_NAME", "/mounted")
    (_, theirs, _), (_, ours, _) = both(head("/mounted/v1/x"), SERVER, Config())
    assert (ours["SCRIPT_NAME"], ours["PATH_INFO"]) == ("/mounted", "/v1/x")
    assert plain(ours) == plain(theirs)


def test_a_path_outside_the_script_name_is_refused_as_gunicorn_refuses_it(monkeypatch):
    monkeypatch.setenv("SCRIPT_NAME", "/mounted")
    cfg = Config()
    for create in (wsgi.create, lambda *args: EnvironMaker(cfg).create(*args[:4])):
        req, sock = parsed(head("/elsewhere"), cfg)
        with pytest.raises(ConfigurationProblem, match="does not start with SCRIPT_NAME"):
            create(req, sock, PEER, SERVER, cfg)


def test_several_workers_are_told_as_gunicorn_tells_them():
    cfg = Config()
    cfg.set("workers", 3)
    (_, theirs, _), (_, ours, _) = both(head("/"), SERVER, cfg)
    assert ours["wsgi.multiprocess"] is theirs["wsgi.multiprocess"] is True


def test_wsgi_errors_writes_to_the_error_log_also_after_it_is_reopened(tmp_path):
    cfg = Config()
    cfg.set("errorlog", str(tmp_path / "error.log"))
    log = Logger(cfg)  # gunicorn's error log handlers, as a worker has them
    try:
        (_, theirs, _), (_, ours, _) = both(head("/"), SERVER, cfg)
        assert ours["wsgi.errors"].streams == theirs["wsgi.errors"].streams != []
        ours["wsgi.errors"].write("before\n")
        (tmp_path / "error.log").rename(tmp_path / "error.log.1")  # logrotate, then USR1
        log.reopen_files()
        ours["wsgi.errors"].write("after\n")
        assert (tmp_path / "error.log.1").read_text() == "before\n"
        assert (tmp_path / "error.log").read_text() == "after\n"
    finally:
        log.error_log.handlers.clear()


def test_early_hints_are_sent_as_gunicorn_sends_them():
    sent = []
    for index in (0, 1):
        cfg = Config()
        req, sock = parsed(head("/"), cfg)
        if index == 0:
            _, environ = wsgi.create(req, sock, PEER, SERVER, cfg)
        else:
            _, environ = EnvironMaker(cfg).create(req, sock, PEER, SERVER)
        environ["wsgi.early_hints"]([("Link", "</a.css>; rel=preload")])
        sent.append(sock.sent)
    assert (
        sent[0] == sent[1] == [b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"]
    )
