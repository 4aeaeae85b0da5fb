"""HTTPS upstreams: the certificate is verified (against certifi's bundle), never skipped."""

from __future__ import annotations

import json
import ssl
import subprocess

import pytest

from tests.upstream import UpstreamServer


@pytest.fixture
def self_signed_upstream(tmp_path):
    """The echo upstream behind TLS with a self-signed certificate for 127.0.0.1."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = UpstreamServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.start()
    yield server
    server.stop()


def test_an_upstream_certificate_no_authority_signed_is_refused(
    route, self_signed_upstream, proxy_client, caplog
):
    target = {"host": "127.0.0.1", "port": self_signed_upstream.port, "protocol": "https"}
    gateway = route(subdomain="tls", targets=[target])
    response = proxy_client.get("/v1/x", HTTP_HOST="tls.localhost", HTTP_X_API_KEY=gateway.key)
    assert response.status_code == 502
    assert json.loads(response.content) == {"error": "upstream unreachable"}
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert self_signed_upstream.seen == []
