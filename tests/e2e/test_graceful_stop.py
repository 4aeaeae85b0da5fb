"""SIGTERM: requests in flight finish, idle keep-alive connections do not hold the stop."""

from __future__ import annotations

import os
import threading
import time

import pytest
import requests

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer

pytestmark = pytest.mark.e2e

GRACEFUL_TIMEOUT_SECONDS = 20  # gateway_project/gunicorn.conf.py


def test_term_finishes_requests_in_flight_and_closes_idle_connections(tmp_path, e2e_upstream):
    server = GatewayServer(tmp_path, os.environ["TEST_REDIS_URL"], workers=2).start()
    gateway = routed_gateway(
        server.post, subdomain="e2e-stop", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    idle = requests.Session()  # a client pool: its connection stays open, waiting
    assert server.proxy("e2e-stop", "/warm", key=gateway.key, session=idle).status_code == 200
    in_flight: dict[str, requests.Response] = {}

    def slow_request() -> None:
        in_flight["response"] = server.proxy(
            "e2e-stop", "/slow", key=gateway.key, params={"seconds": "1.5"}, session=pooled
        )

    pooled = requests.Session()  # keeps the connection of the request in flight open too

    caller = threading.Thread(target=slow_request)
    caller.start()
    time.sleep(0.5)  # the slow request is now waiting on the upstream
    stopped_in = server.stop()
    caller.join(10)
    assert in_flight["response"].status_code == 200
    assert in_flight["response"].json() == {"slow": True}
    assert stopped_in < GRACEFUL_TIMEOUT_SECONDS / 2, stopped_in
