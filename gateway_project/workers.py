"""gunicorn's gevent worker with quick graceful stops and one write per small response.

- On TERM gunicorn's own gevent worker waits for every connection's greenlet, idle keep-alive
  ones included, and clients' connection pools keep those open: every stop took the whole
  graceful_timeout and then cut them anyway. Here requests in flight finish and idle
  connections are closed at once.
- gunicorn writes a response's head and its first body bytes in two sends; here they leave
  together (one syscall and one TCP segment fewer per response: see bench/README.md).
- gunicorn answers requests it cannot parse (bad request line, headers too large, ...) with an
  HTML page; here they get the gateway's JSON `{"error": ...}` with the same status.
- Requests are parsed by httptools (gateway_project/http_parser/) into gunicorn's own request
  objects, under gunicorn's limits and refusals; the rest of gunicorn serves them unchanged.
- HTTP/1 response heads are checked and written by gateway_project/response_head.py (the same
  refusals as gunicorn's, in passes over all header lines).
- Requests parsed here are served by `serve_request`, gunicorn's request handling with the
  environ made by gateway_project/wsgi_environ.py and the settings it reads looked up once.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
from datetime import datetime
from typing import Any

import gevent
from gevent import monkey
from gunicorn import util
from gunicorn.http.errors import NoMoreData
from gunicorn.http.wsgi import FileWrapper, Response
from gunicorn.workers.ggevent import GeventWorker

from gateway_project.http_parser import RequestStream, parses_here
from gateway_project.readiness import readable_now
from gateway_project.response_head import GatewayResponse
from gateway_project.takeovers import shut_down_all
from gateway_project.wsgi_environ import EnvironMaker

IDLE_SWEEP_INTERVAL_SECONDS = 0.25


def has_pending_data(connection: socket.socket) -> bool:
    """Whether a request has started to arrive on `connection` (it is then served, not cut)."""
    try:
        return readable_now(connection)
    except (OSError, ValueError):  # already closed
        return False


def end_connection(connection: socket.socket) -> None:
    """Shut the connection down under its greenlet: its pending read sees a clean end of stream.

    (gevent's own shutdown() would instead fail that read with an error gunicorn logs.)"""
    with contextlib.suppress(OSError, ValueError):
        duplicate = monkey.get_original("socket", "socket")(fileno=os.dup(connection.fileno()))
        with duplicate:
            duplicate.shutdown(socket.SHUT_RDWR)


class HeadWithBodySocket:
    """The client socket as gunicorn's response writer sees it: the response head (written
    alone) is held back and leaves with the next write. Anything else that touches the
    connection (a file sent with sendfile, a 1xx answer, a close) sends the held head first."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._held: bytes | None = None
        self._head_seen = False

    def sendall(self, data: Any) -> None:
        if not self._head_seen and is_final_response_head(data):
            self._head_seen, self._held = True, bytes(data)
            return
        if self._held is not None:
            data, self._held = self._held + bytes(data), None
        self._sock.sendall(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._sock.sendall(held)

    def send(self, data: Any, *args: Any) -> int:
        self.flush()
        return self._sock.send(data, *args)

    def sendfile(self, *args: Any, **kwargs: Any) -> int:
        self.flush()
        return self._sock.sendfile(*args, **kwargs)

    def fileno(self) -> int:
        self.flush()
        return self._sock.fileno()

    def shutdown(self, how: int) -> None:
        self.flush()
        self._sock.shutdown(how)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.flush()
        self._sock.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def is_final_response_head(data: Any) -> bool:
    """A response head other than 1xx (100 Continue and 103 Early Hints must leave at once)."""
    return (
        isinstance(data, bytes)
        and data.startswith(b"HTTP/1.")
        and data[9:10] != b"1"
        and data.endswith(b"\r\n\r\n")
    )


class ErrorPageCapture:
    """Stands in for the client socket while gunicorn writes its HTML error page: keeps the
    status line, so the page can be sent again as JSON."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.written = b""

    def sendall(self, data: bytes) -> None:
        self.written += data

    def gettimeout(self) -> float:
        return 0.0  # gunicorn's write_nonblock then leaves the blocking mode alone

    def __getattr__(self, name: str) -> Any:  # the access log reads the socket's addresses
        return getattr(self._sock, name)

    def status(self) -> tuple[int, str]:
        """(500, "Internal Server Error") when nothing parsable was written."""
        code, _, reason = self.written.partition(b"\r\n")[0].split(b" ", 1)[-1].partition(b" ")
        if not code.isdigit():
            return 500, "Internal Server Error"
        return int(code), reason.decode("latin-1")


def json_error_response(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 error response (connection closed) with a JSON body."""
    body = json.dumps({"error": reason.lower()}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def with_gateway_response(app: Any) -> Any:
    """The WSGI app, its HTTP/1 responses written as GatewayResponse (gunicorn's worker makes a
    plain Response for each request and has no setting for its class; HTTP/2's stays)."""

    def serve(environ: dict[str, Any], start_response: Any) -> Any:
        response = getattr(start_response, "__self__", None)
        if type(response) is Response:
            response.__class__ = GatewayResponse
        return app(environ, start_response)

    return serve


def next_request(requests: RequestStream, idle: gevent.Timeout) -> Any:
    """The connection's next request, or None when none began within the keep-alive time (as
    gunicorn's timeout_ctx, with one Timeout a connection instead of one made per request)."""
    idle.start()
    try:
        return next(requests)
    except gevent.Timeout as timeout:
        if timeout is not idle:
            raise
        return None
    finally:
        idle.cancel()


def write_answer(resp: Any, respiter: Any) -> None:
    """The app's answer through gunicorn's response writer (a file as a file)."""
    if isinstance(respiter, FileWrapper):
        resp.write_file(respiter)
    else:
        for item in respiter:
            resp.write(item)
    resp.close()


class GatewayGeventWorker(GeventWorker):
    """The gevent worker plus a registry of connections waiting for their next request."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idle_connections: set[socket.socket] = set()
        self.environ_maker = EnvironMaker(self.cfg)
        # Settings read per request, looked up once (a worker's settings do not change).
        self.pre_request_hook = self.cfg.pre_request
        self.post_request_hook = self.cfg.post_request
        self.keepalive = self.cfg.keepalive

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.app = self.wsgi  # requests parsed here: their responses are GatewayResponse
        self.wsgi = with_gateway_response(self.wsgi)

    def handle(self, listener: Any, client: socket.socket, addr: Any) -> None:
        self.idle_connections.add(client)
        try:
            if parses_here(self.cfg):
                client.setblocking(True)
                self.serve_connection(listener, client, addr)
            else:  # TLS, the PROXY protocol, HTTP/2: gunicorn's own parser
                super().handle(listener, client, addr)
        finally:
            self.idle_connections.discard(client)

    def serve_connection(self, listener: Any, client: socket.socket, addr: Any) -> None:
        """gunicorn's keep-alive loop (AsyncWorker.handle, HTTP/1.x) over the httptools stream."""
        req = None
        try:
            requests = RequestStream(self.cfg, client, addr)
            listener_name = listener.getsockname()
            idle = gevent.Timeout(self.keepalive, False)  # restarted for each request
            try:
                while True:
                    req = None
                    req = next_request(requests, idle)
                    if not req:
                        break
                    self.serve_request(listener_name, req, client, addr)
                    if not self.keepalive:
                        break
            except NoMoreData as exc:
                self.log.debug("Ignored premature client disconnection. %s", exc)
            except StopIteration as exc:
                self.log.debug("Closing connection. %s", exc)
            except OSError:
                raise
            except Exception as exc:
                self.handle_error(req, client, addr, exc)
            finally:
                idle.close()
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            else:
                self.log.debug("Ignoring %s", errno.errorcode[exc.errno])
        except BaseException as exc:
            self.handle_error(req, client, addr, exc)
        finally:
            util.close(client)

    def handle_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> Any:
        """A request gunicorn's own parser read (TLS, PROXY protocol, HTTP/2)."""
        with self.serving(sock) as writer:
            return super().handle_request(listener_name, req, writer, addr)

    def serve_request(self, listener_name: Any, req: Any, sock: socket.socket, addr: Any) -> None:
        """A request parsed here, served as gunicorn's gevent worker serves it (GreenletExit and
        SystemExit end it quietly; StopIteration, raised when the connection must close, and
        socket errors go to the connection's loop)."""
        with self.serving(sock) as writer, contextlib.suppress(gevent.GreenletExit, SystemExit):
            self.answer(listener_name, req, writer, addr)

    @contextlib.contextmanager
    def serving(self, sock: socket.socket) -> Any:
        """The connection is busy while a request is served; its response head leaves with the
        first body bytes (HeadWithBodySocket)."""
        self.idle_connections.discard(sock)
        writer = HeadWithBodySocket(sock)
        try:
            yield writer
        finally:
            writer.flush()  # a head without body (204, HEAD, empty answers) leaves now
            self.idle_connections.add(sock)  # waiting for the next request, or for the close

    def answer(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> None:
        """gunicorn's AsyncWorker.handle_request: hooks, environ, the app's answer written, the
        access log; an error after the head was sent cuts the connection."""
        started = datetime.now()
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.pre_request_hook(self, req)
            resp, environ = self.environ_maker.create(req, sock, addr, listener_name)
            self.count_request()
            if not self.alive or not self.keepalive:
                resp.force_close()
            respiter = self.app(environ, resp.start_response)
            if self.is_already_handled(respiter):
                return
            try:
                write_answer(resp, respiter)
            finally:
                self.log.access(resp, req, environ, datetime.now() - started)
                if hasattr(respiter, "close"):
                    respiter.close()
            if resp.should_close():
                raise StopIteration()
        except (StopIteration, OSError):
            raise
        except (Exception, SystemExit):
            if resp is not None and resp.headers_sent:  # a second answer would corrupt it
                self.log.exception("Error handling request")
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                raise StopIteration() from None
            raise
        finally:
            try:
                self.post_request_hook(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")

    def count_request(self) -> None:
        """gunicorn's max_requests: the worker restarts after this many requests."""
        self.nr += 1
        if self.nr >= self.max_requests and self.alive:
            self.log.info("Autorestarting worker after current request.")
            self.alive = False

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """gunicorn's error answer (its status, logging and access log) with a JSON body.

        The message is the status's reason phrase: gunicorn's own message quotes the client's
        malformed input, which is not echoed back."""
        capture = ErrorPageCapture(client)
        super().handle_error(req, capture, addr, exc)
        with contextlib.suppress(OSError):
            util.write_nonblock(client, json_error_response(*capture.status()))

    def is_already_handled(self, respiter: Any) -> bool:
        """A response whose connection a handler took over (a WebSocket relayed, then closed):
        nothing is written, the connection is closed."""
        if getattr(respiter, "socket_taken_over", False):
            respiter.close()  # Django's request_finished (database connections)
            return True
        return super().is_already_handled(respiter)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """SIGTERM: stop as gunicorn does, and keep closing connections that fall idle; relayed
        WebSockets are closed with 1001 (going away)."""
        super().handle_exit(sig, frame)
        gevent.spawn(self.close_idle_connections)
        gevent.spawn(shut_down_all)

    def close_idle_connections(self) -> None:
        while True:  # until the worker exits: connections accepted meanwhile fall idle too
            for connection in list(self.idle_connections):
                if not has_pending_data(connection):
                    self.idle_connections.discard(connection)
                    end_connection(connection)
            gevent.sleep(IDLE_SWEEP_INTERVAL_SECONDS)
