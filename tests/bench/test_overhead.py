"""The public overhead method: its statistics, and its rows through real nginx servers."""

from __future__ import annotations

import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import procs
from bench.config import CHAT_COMPLETION, OVERHEAD_PER_ROUND, OVERHEAD_ROUNDS, OVERHEAD_WARMUP
from bench.nginx import Nginx, proxy_http, upstream_http
from bench.overhead import measure_overhead, percentile, reference_of, summarize, verdict
from bench.scenarios import Target, reference_targets
from bench.servers import Servers

needs_nginx = pytest.mark.skipif(
    not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")),
    reason="needs nginx (make -C bench system-deps)",
)


def test_the_method_is_llm_gateway_bench_s_seven_rounds_of_25_after_15_warm_up_requests():
    assert (OVERHEAD_ROUNDS, OVERHEAD_PER_ROUND, OVERHEAD_WARMUP) == (7, 25, 15)


def test_percentiles_interpolate_between_the_closest_ranks():
    assert percentile([4, 1, 3, 2], 50) == 2.5
    assert percentile([1, 2, 3, 4, 5], 90) == pytest.approx(4.6)
    assert summarize([1.0, 2.0, 3.0]) == {
        "n": 3,
        "p50": 2.0,
        "p90": 2.8,
        "p99": 2.98,
        "min": 1.0,
        "max": 3.0,
    }


def test_added_latency_is_the_median_of_per_round_differences_of_round_medians():
    reference = [[1.0, 2.0, 3.0], [2.0, 2.0, 2.0], [1.0, 1.0, 4.0]]  # medians 2, 2, 1
    row = [[2.0, 3.0, 4.0], [3.0, 3.0, 3.0], [5.0, 5.0, 5.0]]  # medians 3, 3, 5
    assert verdict(reference, row) == {
        "rounds": 3,
        "reference_ms": 2.0,
        "row_ms": 3.0,
        "added_ms": 1.0,  # differences 1, 1, 4
        "added_iqr_ms": [1.0, 2.5],
    }


def test_llm_front_rows_are_measured_against_the_llm_mock_the_others_against_nginx_s():
    assert reference_of("gateway-llm-openai") == "direct-llm"
    assert [reference_of(key) for key in ("nginx", "gateway-b", "portkey")] == ["direct"] * 3
    assert reference_of("direct") == reference_of("direct-llm") == ""


@needs_nginx
def test_every_chat_row_gets_its_added_latency_and_a_failing_row_stops_alone(tmp_path):
    upstream_port, proxy_port = procs.free_port(), procs.free_port()
    upstream = Nginx.start(tmp_path / "up", upstream_port, upstream_http(upstream_port))
    try:
        proxy = Nginx.start(
            tmp_path / "proxy", proxy_port, proxy_http(proxy_port, upstream_port, 1)
        )
        try:
            servers = Servers(upstream, proxy, 0, 0, None)
            targets = [t for t in reference_targets(servers) if t.key != "direct-llm"]
            targets += [
                Target("gateway-a", "(a)", 0, "", 0, "", list, broken="gateway did not start"),
                Target("gateway-b", "(b)", procs.free_port(), "x.localhost", 0, "", list),
                Target("gateway-c", "(c) not a row of the method", proxy_port, "", 0, "", list),
            ]
            result = measure_overhead(targets, "key", rounds=3, per_round=5, warmup=2)
        finally:
            proxy.stop()
    finally:
        upstream.stop()
    assert result["method"] == {"rounds": 3, "per_round": 5, "warmup": 2}
    rows = {row["target"]: row for row in result["rows"]}
    assert list(rows) == ["direct", "nginx", "gateway-a", "gateway-b"]
    assert (rows["direct"]["status"], rows["direct"]["rounds"]) == ("ok", 3)
    assert rows["direct"]["summary"]["n"] == 15
    nginx = rows["nginx"]
    assert (nginx["status"], nginx["reference"], nginx["rounds"]) == ("ok", "direct", 3)
    assert min(nginx["reference_ms"], nginx["row_ms"]) > 0
    assert nginx["added_iqr_ms"][0] <= nginx["added_ms"] <= nginx["added_iqr_ms"][1]
    assert rows["gateway-a"] | {"label": ""} == {
        "target": "gateway-a",
        "label": "",
        "reference": "direct",
        "status": "skipped",
        "reason": "gateway did not start",
    }
    assert rows["gateway-b"]["status"] == "failed"
    assert rows["gateway-b"]["reason"].startswith("connect failed: ")


class ClosingEveryFifth(BaseHTTPRequestHandler):
    """Answers chat requests and closes its connection after every fifth answer, without a
    `Connection: close` header, as a server closes a keep-alive connection left idle."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.answered = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps(CHAT_COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.answered += 1
        self.close_connection = self.answered % 5 == 0

    def log_message(self, *args: object) -> None:
        pass


def test_a_row_whose_server_closed_its_idle_connection_is_measured_on_a_new_one():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ClosingEveryFifth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        targets = [Target(key, key, port, "", 0, "", list) for key in ("direct", "portkey")]
        result = measure_overhead(targets, "key", rounds=2, per_round=5, warmup=5)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert [(row["target"], row["status"]) for row in result["rows"]] == [
        ("direct", "ok"),
        ("portkey", "ok"),
    ]
    assert result["rows"][1]["rounds"] == 2
