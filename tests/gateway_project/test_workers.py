"""The worker: its response socket (the head leaves with the first body bytes, in one write),
and requests served through a real worker (errors, max_requests)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
import time

import pytest

from gateway_project.workers import HeadWithBodySocket, has_pending_data, is_final_response_head
from tests.gateway_project.worker_process import gateway_worker
from tests.raw_http import read_response

HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


@pytest.fixture
def pair():
    """A message-preserving socket pair: each write the writer makes is one recv() here."""
    writer, reader = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    reader.settimeout(2)
    yield HeadWithBodySocket(writer), reader
    writer.close()
    reader.close()


def test_head_and_body_leave_in_one_write(pair):
    wrapped, reader = pair
    wrapped.sendall(HEAD)
    wrapped.sendall(b"ok")
    assert reader.recv(4096) == HEAD + b"ok"


def test_later_writes_go_straight_through(pair):
    wrapped, reader = pair
    wrapped.sendall(HEAD)
    wrapped.sendall(b"o")
    wrapped.sendall(b"k")
    assert [reader.recv(4096), reader.recv(4096)] == [HEAD + b"o", b"k"]


def test_a_bodiless_answer_leaves_on_flush(pair):
    wrapped, reader = pair
    wrapped.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    wrapped.flush()
    assert reader.recv(4096) == b"HTTP/1.1 204 No Content\r\n\r\n"


def test_interim_answers_are_not_held(pair):
    wrapped, reader = pair
    wrapped.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    wrapped.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
    wrapped.sendall(HEAD)
    wrapped.sendall(b"ok")
    assert [reader.recv(4096) for _ in range(3)] == [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
        HEAD + b"ok",
    ]


def test_a_file_sent_after_the_head_comes_after_it():
    writer, reader = socket.socketpair()
    wrapped = HeadWithBodySocket(writer)
    with tempfile.TemporaryFile() as body, writer, reader:
        body.write(b"ok")
        body.seek(0)
        wrapped.sendall(HEAD)
        wrapped.sendfile(body)
        writer.shutdown(socket.SHUT_WR)
        received = b"".join(iter(lambda: reader.recv(4096), b""))
    assert received == HEAD + b"ok"


@pytest.mark.parametrize(
    ("data", "held"),
    [
        (HEAD, True),
        (b"HTTP/1.0 404 Not Found\r\n\r\n", True),
        (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", False),
        (b"ok", False),
        (b"HTTP/1.1 200 OK\r\nPartial: ", False),
    ],
)
def test_only_final_response_heads_are_held(data, held):
    assert is_final_response_head(data) is held


def test_a_request_arriving_on_a_socket_numbered_past_1024_is_seen():
    """A worker holding a thousand streams numbers its sockets past select(2)'s limit: a
    connection with a request under way is still served on SIGTERM, not cut."""
    client, server = socket.socketpair()
    high = socket.socket(fileno=os.dup2(server.detach(), 1500))
    with client, high:
        assert not has_pending_data(high)
        client.sendall(b"GET / HTTP/1.1\r\n")
        assert has_pending_data(high)


def get(port: int, path: str) -> tuple[int, bytes]:
    """(status, body) of a GET on a new connection, the body read until the server closes it
    or its Content-Length is in."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode())
        answer = read_response(sock)
    return answer.status, answer.body


@pytest.fixture(scope="module")
def misbehaving_worker():
    with gateway_worker("tests.gateway_project.echo_app:misbehaving", "--max-requests", "3") as p:
        yield p


def test_an_app_failing_before_it_answers_gets_a_json_500(misbehaving_worker):
    status, body = get(misbehaving_worker, "/raise")
    assert (status, json.loads(body)) == (500, {"error": "internal server error"})


def test_an_app_failing_after_its_head_left_cuts_the_connection(misbehaving_worker):
    status, body = get(misbehaving_worker, "/break")
    assert status == 200
    assert body == b"first bytes"  # of 100 announced: the client sees the answer cut short


def test_the_worker_restarts_after_its_max_requests(misbehaving_worker):
    """gunicorn's max_requests (3 here): the worker that served the third request is replaced."""
    pids = set()
    deadline = time.monotonic() + 60
    while len(pids) < 2 and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # between the old worker's exit and the new one
            status, body = get(misbehaving_worker, "/pid")
            assert status == 200
            pids.add(int(body))
    assert len(pids) == 2


def test_a_kept_alive_connection_is_closed_once_idle_for_the_keep_alive_time():
    """One idle timer a connection, restarted for each request: requests in a row are served,
    then the idle connection is closed by the worker (keep-alive 1 s here)."""
    with (
        gateway_worker("tests.gateway_project.echo_app:misbehaving", "--keep-alive", "1") as port,
        socket.create_connection(("127.0.0.1", port), timeout=30) as sock,
    ):
        pids = set()
        for _ in range(3):
            sock.sendall(b"GET /pid HTTP/1.1\r\nHost: a\r\n\r\n")
            answer = read_response(sock)
            assert answer.status == 200
            pids.add(answer.body)
        assert sock.recv(1) == b""  # closed by the worker (recv's own 30 s timeout raises)
        assert len(pids) == 1  # one connection, one worker
