"""Every environment variable the gateway reads: name, default, parser, meaning (no Django).

The one place defaults live. Settings, gunicorn.conf.py and manage.py read through `read()`;
`python -m gateway_project.env` prints the table for the README.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class EnvError(ValueError):
    """A variable is set to something its parser refuses: the process must not start."""


def text(raw: str) -> str:
    return raw.strip()


def boolean(raw: str) -> bool:
    word = raw.strip().lower()
    if word not in TRUE_WORDS | FALSE_WORDS:
        raise ValueError("expected one of 1/0, true/false, yes/no, on/off")
    return word in TRUE_WORDS


def items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def cidrs(raw: str) -> list[str]:
    return [str(ipaddress.ip_network(item, strict=False)) for item in items(raw)]


def access_log(raw: str) -> str:
    """`-` (stdout), `off`, or a file path."""
    value = raw.strip()
    return "off" if value.lower() in FALSE_WORDS else value


def domain(raw: str) -> str:
    return raw.strip().lower().strip(".")


@dataclass(frozen=True)
class Variable:
    """One variable: `default` when unset or empty, else `parse(raw)`."""

    name: str
    default: Any
    parse: Callable[[str], Any]
    meaning: str
    scope: str
    shown: str | None = None  # the default as documented, when it is computed elsewhere

    def read(self, environ: Mapping[str, str]) -> Any:
        raw = environ.get(self.name, "")
        if not raw.strip():
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            raise EnvError(f"{self.name}={raw!r}: {exc}") from exc

    def documented_default(self) -> str:
        if self.shown is not None:
            return self.shown
        if isinstance(self.default, bool):
            return "`true`" if self.default else "`false`"
        if self.default in ("", None, []):
            return "(none)"
        if isinstance(self.default, list):
            return f"`{','.join(self.default)}`"
        return f"`{self.default}`"


# `GATEWAY["<KEY>"]` <- `GATEWAY_<KEY>`; gateway_project.conf adds PLUGINS (not from the env).
GATEWAY_VARIABLES = (
    Variable(
        "GATEWAY_BASE_DOMAIN",
        "localhost",
        domain,
        "gateways answer on `<subdomain>.<base domain>`",
        "gateway",
    ),
    Variable(
        "GATEWAY_ROLE",
        "all",
        text,
        "`all`, `admin` (admin API only) or `proxy` (gateways only) in this process; "
        "checked at start-up (`gateway.E002`)",
        "gateway",
    ),
    Variable(
        "GATEWAY_TRUSTED_PROXIES",
        [],
        items,
        "comma-separated IPs/CIDRs whose `X-Real-IP` / `X-Forwarded-For` are believed",
        "gateway",
    ),
    Variable(
        "GATEWAY_CONNECT_TIMEOUT",
        5.0,
        float,
        "seconds to connect to an upstream; services may override",
        "gateway",
    ),
    Variable(
        "GATEWAY_READ_TIMEOUT",
        60.0,
        float,
        "seconds between bytes from an upstream; services may override",
        "gateway",
    ),
    Variable(
        "GATEWAY_CONFIG_CHECK_INTERVAL",
        0.1,
        float,
        "seconds between a worker's polls of the published config versions (Redis)",
        "gateway",
    ),
    Variable(
        "GATEWAY_CONFIG_DB_CHECK_INTERVAL",
        2.0,
        float,
        "seconds between a worker's checks of the database's own change counter (catches"
        " changes Redis missed)",
        "gateway",
    ),
    Variable(
        "GATEWAY_SNAPSHOT_CACHE_SIZE",
        1000,
        int,
        "compiled gateways kept per process (LRU)",
        "gateway",
    ),
    Variable(
        "GATEWAY_UNKNOWN_HOST_CACHE_SIZE",
        10_000,
        int,
        "unknown subdomains remembered per process (a separate LRU)",
        "gateway",
    ),
    Variable(
        "GATEWAY_SNAPSHOT_BUILD_CONCURRENCY",
        2,
        int,
        "snapshot builds or database checks a process runs at once (its proxy-side database"
        " connections)",
        "gateway",
    ),
    Variable(
        "GATEWAY_MAX_BODY_BYTES",
        32 * 1024 * 1024,
        int,
        "largest request body the proxy accepts (413 above)",
        "gateway",
        shown="`33554432` (32 MiB)",
    ),
    Variable(
        "GATEWAY_BODY_READ_TIMEOUT",
        30.0,
        float,
        "seconds to receive a whole request body, from its first read",
        "gateway",
    ),
    Variable(
        "GATEWAY_MAX_JSON_DEPTH",
        64,
        int,
        "deepest nesting of arrays/objects in a JSON request body",
        "gateway",
    ),
    Variable(
        "GATEWAY_RESPONSES_TTL",
        30 * 24 * 3600,
        int,
        "seconds a stored Responses API response (its conversation) is kept in Redis",
        "gateway",
    ),
    Variable(
        "GATEWAY_RESPONSES_MAX_BYTES",
        1024 * 1024,
        int,
        "largest stored conversation a Responses request may continue (413 past it)",
        "gateway",
    ),
    Variable(
        "GATEWAY_ACCESS_LOG",
        "-",
        access_log,
        "one JSON line per proxied request and admin API write: `-` for stdout, a file path,"
        " or `off`",
        "gateway",
    ),
    Variable(
        "GATEWAY_METRICS",
        True,
        boolean,
        "count proxied requests in the Prometheus series and the monitoring page's rollups;"
        " `false` only to measure what they cost",
        "gateway",
    ),
    Variable(
        "GATEWAY_ECHO_ROUTES",
        False,
        boolean,
        "TrustGate's test routes `/__/ping` and `/__/mirror` (echo the request) on every host",
        "gateway",
    ),
    Variable(
        "GATEWAY_METRICS_TOKEN",
        "",
        text,
        "when set, `/metrics` (admin plane) requires `Authorization: Bearer <token>`",
        "gateway",
    ),
    Variable(
        "GATEWAY_UPSTREAM_DENY",
        [],
        cidrs,
        "comma-separated CIDRs no upstream may point into, e.g. `169.254.0.0/16,127.0.0.0/8`",
        "gateway",
    ),
)

OTHER_VARIABLES = (
    Variable(
        "DJANGO_SETTINGS_MODULE",
        "gateway_project.settings",
        text,
        "read by Django: `gateway_project.settings.production` also selects production; "
        "pytest uses `gateway_project.settings.test`",
        "django",
    ),
    Variable(
        "GATEWAY_ENV",
        "development",
        text,
        "`production` selects `gateway_project.settings.production`",
        "django",
    ),
    Variable(
        "GATEWAY_VAR_DIR",
        BASE_DIR / "var",
        Path,
        "SQLite database, embedded Redis, development secret key, stored admin token, static files",
        "django",
        shown="`var/` in the checkout",
    ),
    Variable(
        "SECRET_KEY",
        "",
        text,
        "required in production; in development generated once in `var/secret_key`",
        "django",
    ),
    Variable("DEBUG", False, boolean, "Django debug pages; never in production", "django"),
    Variable(
        "ALLOWED_HOSTS",
        [],
        items,
        "comma-separated; gateway hosts are validated by the proxy",
        "django",
        shown="`localhost,127.0.0.1,[::1],testserver,.<GATEWAY_BASE_DOMAIN>`",
    ),
    Variable("CSRF_TRUSTED_ORIGINS", [], items, "comma-separated, for the Django admin", "django"),
    Variable(
        "DATABASE_URL",
        "",
        text,
        "e.g. `postgres://user:pass@host/db` (connect timeout 5 s unless `?connect_timeout=` says)",
        "django",
        shown="`sqlite:///<GATEWAY_VAR_DIR>/gateway.sqlite3`",
    ),
    Variable(
        "DATABASE_CONN_MAX_AGE",
        0,
        int,
        "seconds a database connection is kept (not SQLite); 0 closes it after each request,"
        " right under gevent where every request has its own",
        "django",
    ),
    Variable(
        "REDIS_URL",
        "",
        text,
        "e.g. `redis://host:6379/0`, `redis+cluster://host:7000/0`; shared by all nodes",
        "django",
        shown="embedded Redis on a socket in `GATEWAY_VAR_DIR`",
    ),
    Variable("LOG_LEVEL", "INFO", text, "root logger and gunicorn error log level", "django"),
    Variable(
        "GATEWAY_PUBLIC_API_DOCS",
        None,
        boolean,
        "`/api/v1/docs` and `/api/v1/schema` readable without a token (else an admin token or"
        " a staff session)",
        "django",
        shown="`true` when `GATEWAY_BIND` is loopback only, else `false`",
    ),
    Variable(
        "SESSION_COOKIE_SECURE",
        True,
        boolean,
        "Django admin session cookie over HTTPS only",
        "production",
    ),
    Variable("CSRF_COOKIE_SECURE", True, boolean, "CSRF cookie over HTTPS only", "production"),
    Variable(
        "GATEWAY_BIND",
        "127.0.0.1:8080",
        text,
        "address gunicorn listens on (`0.0.0.0:8080`: every interface, which needs"
        " `GATEWAY_METRICS_TOKEN`)",
        "gunicorn",
    ),
    Variable(
        "WEB_CONCURRENCY",
        os.cpu_count() or 1,
        int,
        "gunicorn worker processes",
        "gunicorn",
        shown="number of cores",
    ),
    Variable(
        "SCRIPT_NAME",
        "",
        text,
        "gunicorn's path prefix the gateway is mounted under (stripped from `PATH_INFO`)",
        "gunicorn",
        shown="(none)",
    ),
    Variable(
        "GATEWAY_WORKER_CONNECTIONS",
        2000,
        int,
        "concurrent connections per gevent worker",
        "gunicorn",
    ),
    Variable(
        "GATEWAY_WORKER_TIMEOUT",
        120,
        int,
        "seconds before a silent worker is restarted",
        "gunicorn",
    ),
    Variable(
        "PROMETHEUS_MULTIPROC_DIR",
        "",
        text,
        "directory of the workers' Prometheus metric files, emptied when gunicorn starts",
        "gunicorn",
        shown="a temporary directory the gunicorn master makes and removes",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "",
        text,
        "OpenTelemetry collector (OTLP/HTTP) receiving every gateway's traces; unset, and no"
        " gateway `telemetry` exporter, tracing is off (the other `OTEL_*` variables: the SDK's)",
        "tracing",
    ),
    Variable(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "",
        text,
        "the traces URL itself (`.../v1/traces`), over `OTEL_EXPORTER_OTLP_ENDPOINT`",
        "tracing",
    ),
    Variable("OTEL_SDK_DISABLED", False, boolean, "no traces at all", "tracing"),
    Variable(
        "OTEL_TRACES_EXPORTER",
        "otlp",
        text,
        "`none`: the environment's collector gets no traces (gateways' exporters still do)",
        "tracing",
    ),
    Variable(
        "OTEL_SERVICE_NAME",
        "ai-gateway",
        text,
        "`service.name` of the spans (`OTEL_RESOURCE_ATTRIBUTES` adds others)",
        "tracing",
    ),
    Variable(
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        False,
        boolean,
        "LLM request spans carry the prompt's messages as forwarded (after masking plugins)",
        "tracing",
    ),
    Variable(
        "TEST_REDIS_URL",
        "",
        text,
        "Redis for the test suite",
        "tests",
        shown="an embedded Redis started for the run",
    ),
    Variable(
        "PYTEST_XDIST_WORKER",
        "",
        text,
        "the pytest-xdist worker running the tests, set by pytest-xdist (`make test`)",
        "tests",
        shown="none (a run without workers)",
    ),
    Variable(
        "GW_TEST_REDIS_OWNER",
        "",
        text,
        "the xdist worker whose Redis TEST_REDIS_URL names, set by the test settings",
        "tests",
        shown="none (the controller's, or a run without workers)",
    ),
    Variable(
        "GATEWAY_FUZZ_EXAMPLES",
        10,
        int,
        "examples per operation in the OpenAPI fuzz test",
        "tests",
    ),
)

SCOPES = ("django", "gateway", "production", "gunicorn", "tracing", "tests")  # the table's order
VARIABLES: dict[str, Variable] = {v.name: v for v in (*GATEWAY_VARIABLES, *OTHER_VARIABLES)}


def read(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The value of a catalogued variable (KeyError for one not in the catalogue)."""
    return VARIABLES[name].read(os.environ if environ is None else environ)


def gateway_key(variable: Variable) -> str:
    return variable.name.removeprefix("GATEWAY_")


def gateway_defaults() -> dict[str, Any]:
    return {gateway_key(v): v.default for v in GATEWAY_VARIABLES}


def gateway_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `GATEWAY` settings dict from the environment (unset variables: their defaults)."""
    return {gateway_key(v): read(v.name, environ) for v in GATEWAY_VARIABLES}


def var_dir() -> Path:
    return read("GATEWAY_VAR_DIR")


def is_production() -> bool:
    return read("GATEWAY_ENV") == "production"


def markdown_table() -> str:
    rows = ["| variable | scope | default | meaning |", "| --- | --- | --- | --- |"]
    for variable in sorted(VARIABLES.values(), key=lambda v: SCOPES.index(v.scope)):
        rows.append(
            f"| `{variable.name}` | {variable.scope} | {variable.documented_default()} "
            f"| {variable.meaning} |"
        )
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
