"""The WSGI environ of an HTTP/1 request the worker parsed, as gunicorn's `wsgi.create` maps
it, with what is the same for every request of a worker made once instead of per request.

gunicorn builds a new `wsgi.errors` (a logger lookup under logging's lock), reads SCRIPT_NAME
from os.environ and several settings for each request: ~0.1 M instructions a request together
(bench/README.md, "Issue 29's levers"). Only used where the worker parses requests itself
(no PROXY protocol, no TLS, no HTTP/2: see http_parser.parses_here), where gunicorn's own
`create` has nothing more to add.
"""

from __future__ import annotations

from typing import Any

from gunicorn import SERVER_SOFTWARE, util
from gunicorn.http.errors import ConfigurationProblem
from gunicorn.http.wsgi import FileWrapper, WSGIErrorsWrapper, _make_early_hints_callback

from gateway_project import env
from gateway_project.response_head import GatewayResponse

PROTOCOLS = {(1, 1): "HTTP/1.1", (1, 0): "HTTP/1.0"}
# Headers that gunicorn maps to environ keys of their own, not HTTP_<name>.
OWN_KEYS = {"CONTENT-TYPE": "CONTENT_TYPE", "CONTENT-LENGTH": "CONTENT_LENGTH"}


class WorkerErrors(WSGIErrorsWrapper):
    """gunicorn's `wsgi.errors` for every request of a worker: the error log's streams are
    looked up when something is written (rare), so a reopened log file is still followed."""

    def __init__(self, cfg: Any) -> None:  # noqa: D107 (the streams are found per write)
        self._cfg = cfg

    @property
    def streams(self) -> list[Any]:
        return WSGIErrorsWrapper(self._cfg).streams


class EnvironMaker:
    """Makes (response, environ) for one worker's requests: gunicorn's mapping, its constant
    keys built once per worker and its server keys once per listener."""

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.script_name = env.read("SCRIPT_NAME")
        self.constant = {
            "wsgi.errors": WorkerErrors(cfg),
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,  # as gunicorn's async workers set it
            "wsgi.multiprocess": cfg.workers > 1,
            "wsgi.run_once": False,
            "wsgi.file_wrapper": FileWrapper,
            "wsgi.input_terminated": True,
            "SERVER_SOFTWARE": SERVER_SOFTWARE,
        }
        self._servers: dict[Any, dict[str, str]] = {}

    def create(self, req: Any, sock: Any, client: Any, server: Any) -> tuple[Any, dict]:
        """What gunicorn's `wsgi.create(req, sock, client, server, cfg)` returns for `req`."""
        resp = GatewayResponse(req, sock, self.cfg)
        environ = self.constant.copy()
        environ["wsgi.input"] = req.body
        environ["gunicorn.socket"] = sock
        environ["REQUEST_METHOD"] = req.method
        environ["QUERY_STRING"] = req.query
        environ["RAW_URI"] = req.uri
        environ["SERVER_PROTOCOL"] = PROTOCOLS.get(req.version) or protocol(req.version)
        if req._expected_100_continue:
            sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        host, script_name = self._headers(req.headers, environ)
        environ["wsgi.url_scheme"] = req.scheme
        environ.update(remote_keys(client))
        environ.update(self._server_keys(server, host, req.scheme))
        environ["PATH_INFO"] = path_info(req.path, script_name)
        environ["SCRIPT_NAME"] = script_name
        environ["wsgi.early_hints"] = _make_early_hints_callback(req, sock, resp)
        return resp, environ

    def _headers(self, headers: list[tuple[str, str]], environ: dict) -> tuple[str | None, str]:
        """The request's headers into `environ` (HTTP_<NAME>, repeated ones joined with a
        comma, as gunicorn does): the Host header and the script name they give."""
        host, script_name = None, self.script_name
        repeated: dict[str, list[str]] = {}
        for name, value in headers:
            if name in OWN_KEYS:
                environ[OWN_KEYS[name]] = value
                continue
            if name == "HOST":
                host = value
            elif name == "SCRIPT_NAME":
                script_name = value
            key = "HTTP_" + name.replace("-", "_")
            if key in environ:
                repeated.setdefault(key, [environ[key]]).append(value)
            else:
                environ[key] = value
        for key, values in repeated.items():
            environ[key] = ",".join(values)
        return host, script_name

    def _server_keys(self, server: Any, host: str | None, scheme: str) -> dict[str, str]:
        """SERVER_NAME and SERVER_PORT: of the listener, or (a unix socket) of the Host."""
        if isinstance(server, str) and ":" not in server:
            return server_keys(server, host, scheme)  # per Host: not kept
        keys = self._servers.get(server)
        if keys is None:
            keys = self._servers[server] = server_keys(server, host, scheme)
        return keys


def protocol(version: tuple[int, int]) -> str:
    return f"HTTP/{version[0]}.{version[1]}"


def remote_keys(client: Any) -> dict[str, str]:
    if isinstance(client, str):
        return {"REMOTE_ADDR": client}
    if isinstance(client, bytes):
        return {"REMOTE_ADDR": client.decode()}
    return {"REMOTE_ADDR": client[0], "REMOTE_PORT": str(client[1])}


def server_keys(server: Any, host: str | None, scheme: str) -> dict[str, str]:
    """gunicorn's SERVER_NAME and SERVER_PORT for a listener address (`server`)."""
    if isinstance(server, str):
        server = server.split(":")
        if len(server) == 1:  # a unix socket: the Host header's, else an empty port
            if host:
                server = host.split(":")
                if len(server) == 1:
                    server.append({"http": 80, "https": 443}.get(scheme, ""))
            else:
                server.append("")
    return {"SERVER_NAME": server[0], "SERVER_PORT": str(server[1])}


def path_info(path: str, script_name: str) -> str:
    if script_name:
        if not path.startswith(script_name):
            raise ConfigurationProblem(
                f"Request path {path!r} does not start with SCRIPT_NAME {script_name!r}"
            )
        path = path[len(script_name) :]
    return util.unquote_to_wsgi_str(path)
