"""How the gateway reaches upstreams: through an egress proxy (a real tinyproxy: absolute-form
for http, CONNECT for https), with client TLS (a server that requires a client certificate) and
with OAuth2 client-credentials tokens (a local token endpoint), each validated when written."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs

import pytest
import trustme

from gateway_project.secret_masking import MASK
from proxy import oauth2
from tests.gateways.test_routing_api import field_errors
from tests.upstream import BackgroundServer, EchoHandler, UpstreamServer, free_port

PROXY_USER, PROXY_PASSWORD = "gw", "pr0xy-s3cret"


def body_of(response) -> dict:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return json.loads(content)


def call(client, gateway, path: str = "/x"):
    host = f"{gateway.gateway['subdomain']}.localhost"
    return client.get(path, HTTP_HOST=host, HTTP_X_TG_API_KEY=gateway.key)


# --- the servers ---


class Tinyproxy:
    """A real tinyproxy on a free loopback port, requiring Basic credentials, logging requests."""

    def __init__(self, directory) -> None:
        self.port = free_port()
        self.log = directory / "tinyproxy.log"
        config = directory / "tinyproxy.conf"
        config.write_text(
            f'Port {self.port}\nListen 127.0.0.1\nTimeout 30\nLogFile "{self.log}"\n'
            f"LogLevel Info\nMaxClients 50\nAllow 127.0.0.1\n"
            f"BasicAuth {PROXY_USER} {PROXY_PASSWORD}\n"
        )
        self.process = subprocess.Popen(
            ["tinyproxy", "-d", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:  # until it accepts connections
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.02)

    def logged(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def tinyproxy(tmp_path_factory):
    if shutil.which("tinyproxy") is None:
        pytest.skip("tinyproxy is not installed (Debian package tinyproxy; .ci/run installs it)")
    proxy = Tinyproxy(tmp_path_factory.mktemp("tinyproxy"))
    yield proxy
    proxy.stop()


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


def pem(blob) -> str:
    return blob.bytes().decode()


def tls_upstream(ca: trustme.CA, *, client_certs: bool, maximum=None) -> UpstreamServer:
    """The echo upstream behind TLS (a certificate of `ca` for 127.0.0.1); with `client_certs`
    it requires a client certificate issued by `ca`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    if client_certs:
        context.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(context)
    if maximum is not None:
        context.maximum_version = maximum
    server = UpstreamServer()
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server.start()


@pytest.fixture
def tls_servers(ca):
    started: list[UpstreamServer] = []

    def start(**options) -> UpstreamServer:
        started.append(tls_upstream(ca, **options))
        return started[-1]

    yield start
    for server in started:
        server.stop()


class TokenHandler(BaseHTTPRequestHandler):
    """POST /token: a client-credentials grant answered with a new token each time."""

    protocol_version = "HTTP/1.1"
    server: TokenServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        with self.server.lock:
            self.server.grants.append(({k: v[0] for k, v in form.items()}, dict(self.headers)))
            token = f"token-{len(self.server.grants)}"
            self.server.issued.append(token)
        if self.server.failing:
            self._answer(500, {"error": "server_error"})
        else:
            self._answer(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _answer(self, status: int, data: dict) -> None:
        payload = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class TokenServer(BackgroundServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.lock = threading.Lock()
        self.grants: list[tuple[dict, dict]] = []
        self.issued: list[str] = []
        self.failing = False


class ProtectedHandler(EchoHandler):
    """The echo upstream, answering 401 to a Bearer token it does not accept."""

    def _handle(self) -> None:
        if self.headers.get("Authorization", "").removeprefix("Bearer ") in self.server.revoked:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._json(401, {"error": "invalid_token"})
            return
        super()._handle()

    do_GET = do_POST = _handle


class ProtectedServer(UpstreamServer):
    handler_class = ProtectedHandler

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.revoked: set[str] = set()


@pytest.fixture
def token_server():
    server = TokenServer().start()
    oauth2._TOKENS.clear()
    yield server
    server.stop()


def oauth_target(port: int, token_server: TokenServer, client_id: str, **oauth) -> dict:
    return {
        "host": "127.0.0.1",
        "port": port,
        "auth": {
            "type": "oauth2",
            "oauth": {
                "token_url": f"http://127.0.0.1:{token_server.port}/token",
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": "cl1ent-s3cret",
                **oauth,
            },
        },
    }


# --- proxy_config ---


@pytest.fixture
def egress_route(transactional_db, api):
    """`egress_route(subdomain, targets, **upstream fields)`: a routed gateway whose upstream
    has extra fields (proxy_config, client_tls)."""
    from tests.builders import in_process_post, routed_gateway

    def build(subdomain: str, targets: list[dict], **upstream_fields):
        gateway = routed_gateway(in_process_post(api), subdomain=subdomain, target_dicts=targets)
        url = f"/api/v1/gateways/{gateway.id}/upstreams/{gateway.upstream['id']}"
        response = api.put(url, upstream_fields, format="json")
        assert response.status_code == 200, response.json()
        gateway.upstream = response.json()
        return gateway

    return build


def proxy_config(tinyproxy: Tinyproxy, **extra) -> dict:
    return {
        "host": "127.0.0.1",
        "port": str(tinyproxy.port),  # TrustGate sends a string
        "username": PROXY_USER,
        "password": PROXY_PASSWORD,
        **extra,
    }


def test_http_targets_go_through_the_proxy_in_absolute_form(
    egress_route, tinyproxy, upstream, proxy_client
):
    target = {"host": "127.0.0.1", "port": upstream.port}
    gateway = egress_route("egress", [target], proxy_config=proxy_config(tinyproxy))
    response = call(proxy_client, gateway, "/v1/hello?q=1")
    assert response.status_code == 200, body_of(response)
    assert body_of(response)["path"] == "/v1/hello"
    seen = upstream.seen[-1]
    assert "tinyproxy" in seen.headers.get("Via", "")  # relayed by the proxy
    assert "Proxy-Authorization" not in seen.headers
    assert f"GET http://127.0.0.1:{upstream.port}/v1/hello?q=1" in tinyproxy.logged()
    assert gateway.upstream["proxy_config"]["password"] == MASK
    assert gateway.upstream["proxy_config"]["port"] == tinyproxy.port


def test_https_targets_are_tunnelled_with_connect(
    egress_route, tinyproxy, tls_servers, ca, proxy_client
):
    server = tls_servers(client_certs=False)
    target = {"host": "127.0.0.1", "port": server.port, "protocol": "https"}
    gateway = egress_route(
        "tunnel",
        [target],
        proxy_config=proxy_config(tinyproxy),
        client_tls={"ca_cert": pem(ca.cert_pem)},
    )
    response = call(proxy_client, gateway, "/secure")
    assert response.status_code == 200, body_of(response)
    assert body_of(response)["path"] == "/secure"
    assert "Via" not in server.seen[-1].headers  # end-to-end TLS: the proxy saw no request
    assert f"CONNECT 127.0.0.1:{server.port}" in tinyproxy.logged()


def test_wrong_proxy_credentials_never_reach_the_upstream(
    egress_route, tinyproxy, tls_servers, ca, proxy_client
):
    server = tls_servers(client_certs=False)
    target = {"host": "127.0.0.1", "port": server.port, "protocol": "https"}
    gateway = egress_route(
        "badproxy",
        [target],
        proxy_config=proxy_config(tinyproxy, password="wrong"),
        client_tls={"ca_cert": pem(ca.cert_pem)},
    )
    assert call(proxy_client, gateway).status_code == 502
    assert server.seen == []


def test_a_masked_proxy_password_sent_back_keeps_the_stored_one(
    egress_route, api, tinyproxy, upstream, proxy_client
):
    target = {"host": "127.0.0.1", "port": upstream.port}
    gateway = egress_route("mask", [target], proxy_config=proxy_config(tinyproxy))
    url = f"/api/v1/gateways/{gateway.id}/upstreams/{gateway.upstream['id']}"
    shown = api.get(url).json()
    assert api.put(url, shown, format="json").status_code == 200
    assert call(proxy_client, gateway).status_code == 200
    assert "tinyproxy" in upstream.seen[-1].headers.get("Via", "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("proxy", "field"),
    [
        ({"port": "3128"}, "proxy_config.host"),
        ({"host": "", "port": "3128"}, "proxy_config.host"),
        ({"host": "p.example"}, "proxy_config.port"),
        ({"host": "p.example", "port": "0"}, "proxy_config.port"),
        ({"host": "p.example", "port": 3128, "protocol": "socks5"}, "proxy_config.protocol"),
        ({"host": "p.example", "port": 3128, "password": "x"}, "proxy_config.username"),
        (
            {"host": "p.example", "port": 3128, "username": "a:b", "password": "x"},
            "proxy_config.username",
        ),
        (
            {"host": "p.example", "port": 3128, "password": MASK, "username": "u"},
            "proxy_config.password",
        ),
        ({"host": "p.example", "port": 3128, "sni": "x"}, "proxy_config.sni"),
    ],
)
def test_invalid_proxy_config_is_400_naming_the_field(api, proxy, field):
    gateway = api.post("/api/v1/gateways", {"name": "p", "subdomain": "p"}, format="json").json()
    payload = {"name": "u", "targets": [{"host": "h.example"}], "proxy_config": proxy}
    url = f"/api/v1/gateways/{gateway['id']}/upstreams"
    assert field_errors(api.post(url, payload, format="json"), field)


# --- client_tls ---


def client_tls(ca: trustme.CA, **extra) -> dict:
    cert = ca.issue_cert("gateway-client")
    return {
        "ca_cert": pem(ca.cert_pem),
        "client_certs": {
            "certificate": "".join(pem(blob) for blob in cert.cert_chain_pems),
            "private_key": pem(cert.private_key_pem),
        },
        **extra,
    }


def test_a_client_certificate_is_presented_to_an_upstream_requiring_one(
    egress_route, tls_servers, ca, proxy_client
):
    server = tls_servers(client_certs=True)
    target = {"host": "127.0.0.1", "port": server.port, "protocol": "https"}
    without = egress_route("nocert", [target], client_tls={"ca_cert": pem(ca.cert_pem)})
    assert call(proxy_client, without).status_code == 502  # the handshake is refused
    assert server.seen == []
    gateway = egress_route("mtls", [target], client_tls=client_tls(ca))
    response = call(proxy_client, gateway, "/mutual")
    assert response.status_code == 200, body_of(response)
    assert server.seen[-1].path == "/mutual"
    assert gateway.upstream["client_tls"]["client_certs"]["private_key"] == MASK


def test_min_version_refuses_an_upstream_below_it(egress_route, tls_servers, ca, proxy_client):
    server = tls_servers(client_certs=False, maximum=ssl.TLSVersion.TLSv1_2)
    target = {"host": "127.0.0.1", "port": server.port, "protocol": "https"}
    tls12 = egress_route("tls12", [target], client_tls=client_tls(ca, max_version="TLS12"))
    assert call(proxy_client, tls12).status_code == 200
    tls13 = egress_route("tls13", [target], client_tls=client_tls(ca, min_version="TLS13"))
    assert call(proxy_client, tls13).status_code == 502
    assert len(server.seen) == 1


@pytest.mark.django_db
def test_invalid_client_tls_is_400_naming_the_field(api, ca):
    gateway = api.post("/api/v1/gateways", {"name": "t", "subdomain": "t"}, format="json").json()
    url = f"/api/v1/gateways/{gateway['id']}/upstreams"
    other = trustme.CA().issue_cert("other")
    good = client_tls(ca)
    cases = [
        ({**good, "min_version": "TLS10"}, "client_tls.min_version"),
        ({**good, "min_version": "TLS13", "max_version": "TLS12"}, "client_tls.max_version"),
        ({**good, "ca_cert": "not a certificate"}, "client_tls.ca_cert"),
        (
            {
                **good,
                "client_certs": {**good["client_certs"], "private_key": pem(other.private_key_pem)},
            },
            "client_tls.client_certs.private_key",
        ),
        ({"client_certs": {"certificate": "x"}}, "client_tls.client_certs.private_key"),
        ({"disable_system_ca_pool": True}, "client_tls.ca_cert"),
        ({**good, "cipher_suites": []}, "client_tls.cipher_suites"),
    ]
    for config, field in cases:
        payload = {"name": "u", "targets": [{"host": "h.example"}], "client_tls": config}
        assert field_errors(api.post(url, payload, format="json"), field), field


# --- OAuth2 client credentials ---


@pytest.fixture
def protected(upstreams):
    return upstreams.start(server_class=ProtectedServer)


def test_the_token_is_fetched_once_cached_and_shared(
    egress_route, token_server, protected, proxy_client
):
    target = oauth_target(
        protected.port, token_server, "shared-client", scopes=["read", "write"], audience="api://x"
    )
    gateway = egress_route("oauth", [target])
    for _ in range(3):
        assert call(proxy_client, gateway).status_code == 200
    assert [seen.headers["Authorization"] for seen in protected.seen] == ["Bearer token-1"] * 3
    form, headers = token_server.grants[0]
    assert form == {
        "grant_type": "client_credentials",
        "client_id": "shared-client",
        "client_secret": "cl1ent-s3cret",
        "scope": "read write",
        "audience": "api://x",
    }
    oauth2._TOKENS.clear()  # another worker: the token stored in Redis
    assert call(proxy_client, gateway).status_code == 200
    assert len(token_server.grants) == 1
    auth = gateway.upstream["targets"][0]["auth"]["oauth"]
    assert auth["client_secret"] == MASK


def test_a_401_fetches_a_new_token_once(egress_route, token_server, protected, proxy_client):
    target = oauth_target(protected.port, token_server, "refresh-client", use_basic_auth=True)
    gateway = egress_route("refresh", [target])
    assert call(proxy_client, gateway).status_code == 200
    _, headers = token_server.grants[0]
    assert headers["Authorization"].startswith("Basic ")
    assert "client_secret" not in token_server.grants[0][0]
    protected.revoked.add("token-1")
    assert call(proxy_client, gateway).status_code == 200
    assert protected.seen[-1].headers["Authorization"] == "Bearer token-2"
    protected.revoked.update({"token-2", "token-3"})
    assert call(proxy_client, gateway).status_code == 401  # refreshed once, then the answer
    assert len(token_server.grants) == 3


def test_tokens_are_fetched_through_the_upstreams_egress_proxy(
    egress_route, tinyproxy, token_server, protected, proxy_client
):
    target = oauth_target(protected.port, token_server, "proxied-client")
    gateway = egress_route("oauthproxy", [target], proxy_config=proxy_config(tinyproxy))
    assert call(proxy_client, gateway).status_code == 200
    _, headers = token_server.grants[0]
    assert "tinyproxy" in headers.get("Via", "")
    assert f"POST http://127.0.0.1:{token_server.port}/token" in tinyproxy.logged()
    assert protected.seen[-1].headers["Authorization"] == "Bearer token-1"


def test_a_failing_token_endpoint_is_502_and_nothing_is_sent(
    egress_route, token_server, protected, proxy_client
):
    token_server.failing = True
    gateway = egress_route("notoken", [oauth_target(protected.port, token_server, "down-client")])
    assert call(proxy_client, gateway).status_code == 502
    assert protected.seen == []


@pytest.mark.django_db
def test_invalid_oauth_is_400_naming_the_field(api, token_server):
    gateway = api.post("/api/v1/gateways", {"name": "o", "subdomain": "o"}, format="json").json()
    url = f"/api/v1/gateways/{gateway['id']}/upstreams"
    good = oauth_target(80, token_server, "c")
    cases = [
        ({"grant_type": "password"}, "targets.0.auth.oauth.grant_type"),
        ({"token_url": "ftp://x/token"}, "targets.0.auth.oauth.token_url"),
        ({"client_secret": MASK}, "targets.0.auth.oauth.client_secret"),
        ({"scopes": ["a b"]}, "targets.0.auth.oauth.scopes"),
        ({"use_basic_auth": "yes"}, "targets.0.auth.oauth.use_basic_auth"),
        ({"refresh_token": "r"}, "targets.0.auth.oauth.refresh_token"),
    ]
    for change, field in cases:
        target = {**good, "auth": {"type": "oauth2", "oauth": {**good["auth"]["oauth"], **change}}}
        payload = {"name": "u", "targets": [target]}
        assert field_errors(api.post(url, payload, format="json"), field), field


@pytest.mark.django_db
def test_egress_fields_are_in_the_schema_and_masked_in_the_django_admin(api, admin_client, ca):
    schema = api.get("/api/v1/schema?format=json").json()["components"]["schemas"]
    assert {"proxy_config", "client_tls"} <= set(schema["Upstream"]["properties"])
    assert "client_secret" in schema["OAuth"]["properties"]
    gateway = api.post("/api/v1/gateways", {"name": "a", "subdomain": "a"}, format="json").json()
    payload = {
        "name": "u",
        "targets": [{"host": "h.example", "protocol": "https"}],
        "proxy_config": {"host": "p.example", "port": 3128, "username": "u", "password": "pw-1"},
        "client_tls": client_tls(ca),
    }
    upstream = api.post(f"/api/v1/gateways/{gateway['id']}/upstreams", payload, format="json")
    assert upstream.status_code == 201, upstream.json()
    page = admin_client.get(f"/admin/gateways/upstream/{upstream.json()['id']}/change/")
    assert page.status_code == 200
    assert b"pw-1" not in page.content
    assert b"PRIVATE KEY" not in page.content
