"""Portkey's gateway beside ours: routed by its headers to the mock, stopped with the run.

The real-server tests use the package `make bench BENCH_PEERS=1` installed in the bench's
cache folder (they do not install it: npm would reach the registry from the test suite).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import psutil
import pytest
import requests

from bench import procs
from bench.config import CHAT_COMPLETION, CHAT_REQUEST, REPO_ROOT
from bench.nginx import Nginx, upstream_http
from bench.peers import Peers, cache_dir, peer_targets
from bench.portkey import PORTKEY_VERSION, chat_headers, start_portkey

installed = (cache_dir() / f"portkey-{PORTKEY_VERSION}" / ".installed").exists()
needs_portkey = pytest.mark.skipif(
    not (installed and shutil.which("node"))
    or not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
    reason="needs node, nginx and Portkey in the bench's cache (make bench BENCH_PEERS=1)",
)
# Started in its own process: nginx and Portkey, supervised as `python -m bench` supervises.
SUPERVISED_RUN = """
import contextlib, signal, sys
from pathlib import Path
from bench import procs
from bench.nginx import Nginx, upstream_http
from bench.peers import cache_dir
from bench.portkey import start_portkey

tmp = Path(sys.argv[1])
with procs.supervised(), contextlib.ExitStack() as stack:
    port = procs.free_port()
    upstream = Nginx.start(tmp / "up", port, upstream_http(port))
    stack.callback(upstream.stop)
    server = start_portkey(cache_dir(), tmp / "portkey", port)
    stack.callback(procs.stop, server.process)
    print(server.process.pid, flush=True)
    signal.pause()
"""


def test_portkey_s_row_is_the_chat_workload_routed_by_its_provider_headers():
    (target,) = [t for t in peer_targets(Peers("1.108.7")) if t.key == "portkey"]
    assert target.broken == "not started"
    assert target.label == f"Portkey {PORTKEY_VERSION} (provider headers)"
    assert (target.measures("chat"), target.measures("json"), target.sse_port) == (True, False, 0)
    assert chat_headers(8080) == {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": "http://127.0.0.1:8080/v1",
        "Authorization": "Bearer sk-mock-upstream",
    }


@needs_portkey
def test_portkey_answers_the_chat_request_from_the_nginx_mock(tmp_path):
    port = procs.free_port()
    upstream = Nginx.start(tmp_path / "up", port, upstream_http(port))
    try:
        server = start_portkey(cache_dir(), tmp_path / "portkey", port)
        try:
            (target,) = [t for t in peer_targets(Peers("", portkey=server)) if t.key == "portkey"]
            url = f"http://127.0.0.1:{target.port}/v1/chat/completions"
            response = requests.post(url, json=CHAT_REQUEST, headers=target.headers("k"))
            names = {psutil.Process(pid).name() for pid in target.pids()}
        finally:
            procs.stop(server.process)
    finally:
        upstream.stop()
    assert response.status_code == 200, response.text
    assert response.json() == CHAT_COMPLETION
    assert response.headers["x-portkey-provider"] == "openai"
    assert "node" in names


@needs_portkey
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_stops_portkey_s_node(signum, tmp_path):
    run = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED_RUN, str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = run.stdout.readline()
        assert line, run.stderr.read()
        node = psutil.Process(int(line))
        assert node.name() == "node"
        run.send_signal(signum)
        assert run.wait(60) != 0
        assert "Interrupted" in run.stderr.read()
        assert not node.is_running()
    finally:
        run.kill()
        run.wait()
        run.stdout.close()
        run.stderr.close()
