"""The WSGI application gunicorn serves: gateway hosts go to the proxy without Django's request
handler, every other host (and the probes and system routes on any host) to Django."""

from __future__ import annotations

import json

import pytest
from django.core.signals import request_finished, request_started
from django.test import RequestFactory

from gateway_project.wsgi import application


class Served:
    """One request through `application`, and the request signals it sent."""

    def __init__(self, host: str, path: str, **headers: str) -> None:
        self.started: list[object] = []
        self.finished: list[object] = []
        request_started.connect(self._started)
        request_finished.connect(self._finished)
        try:
            environ = RequestFactory().post(path, b'{"a": 1}', "application/json", **headers)
            environ = environ.environ | {"HTTP_HOST": host}
            answer = application(environ, self._start_response)
            self.body = b"".join(answer)
            answer.close()
        finally:
            request_started.disconnect(self._started)
            request_finished.disconnect(self._finished)

    def _start_response(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, headers

    def _started(self, sender: object, **kwargs: object) -> None:
        self.started.append(sender)

    def _finished(self, sender: object, **kwargs: object) -> None:
        self.finished.append(sender)


def test_a_gateway_host_is_proxied_without_djangos_request_handler(route, upstream):
    gateway = route()
    served = Served("api.localhost", "/echo?q=1", HTTP_X_API_KEY=gateway.key)
    assert served.status == "200 OK"
    assert json.loads(served.body)["path"] == "/echo"
    assert "X-Request-ID" in {name for name, _ in served.headers}
    assert served.started == []  # no request_started: nothing of the handler ran
    assert served.finished == []  # nor request_finished: the answer closes what it opened
    assert upstream.seen[-1].body == b'{"a": 1}'


@pytest.mark.parametrize(
    ("host", "path", "status"),
    [
        ("localhost", "/api/v1/gateways", "401 Unauthorized"),  # the admin plane
        ("api.localhost", "/healthz", "200 OK"),  # a probe, on a gateway host too
        ("api.localhost", "/health", "200 OK"),  # a system route
        ("a..localhost", "/x", "400 Bad Request"),  # a malformed Host: the middleware's 400
    ],
)
def test_every_other_request_goes_through_django(db, host, path, status):
    served = Served(host, path)
    assert served.status == status
    assert len(served.started) == 1


def test_a_gateway_answer_of_4xx_is_logged_as_django_logs_it(route, caplog):
    route()
    served = Served("api.localhost", "/echo")  # no API key
    assert served.status == "401 Unauthorized"
    assert "Unauthorized: /echo" in caplog.text
