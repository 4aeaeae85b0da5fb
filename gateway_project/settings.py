"""Django settings, read from the environment (12-factor); our own knobs live in GATEWAY."""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway_project.embedded_redis import socket_url
from gateway_project.redis_cluster import is_cluster_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("GATEWAY_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def development_secret_key() -> str:
    """A secret key generated once and kept in var/ (development only)."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


PRODUCTION = os.environ.get("GATEWAY_ENV", "development") == "production"
DEBUG = env_bool("DEBUG")
SECRET_KEY = (
    os.environ["SECRET_KEY"]
    if PRODUCTION
    else (os.environ.get("SECRET_KEY") or development_secret_key())
)

GATEWAY_BASE_DOMAIN = os.environ.get("GATEWAY_BASE_DOMAIN", "localhost").lower().strip(".")
ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", f"localhost,127.0.0.1,[::1],testserver,.{GATEWAY_BASE_DOMAIN}"
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "gateways",
    "plugins",
    "keys",
    "proxy",
]

MIDDLEWARE = [
    "proxy.middleware.GatewayProxyMiddleware",
    "gateway_project.propagation.ConfigPropagationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gateway_project.urls"
WSGI_APPLICATION = "gateway_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Connections are closed after each request by default: under gevent every greenlet (request)
# has its own connection, so "persistent" ones would pile up, one per request, until collected.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'gateway.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

REDIS_URL = os.environ.get("REDIS_URL") or socket_url(VAR_DIR / "redis.sock")
EMBEDDED_REDIS = not os.environ.get("REDIS_URL")


def cache_settings(redis_url: str) -> dict:
    """django-redis settings with short timeouts: a Redis outage must never hang a request.

    A `redis+cluster://host:port` (or `rediss+cluster://`) URL names a Redis Cluster node."""
    options: dict = {
        "SOCKET_CONNECT_TIMEOUT": 0.5,
        "SOCKET_TIMEOUT": 0.5,
        "CONNECTION_POOL_KWARGS": {
            "max_connections": 1000,
            "retry": Retry(NoBackoff(), 0),  # fail fast; callers decide what an outage means
        },
    }
    if is_cluster_url(redis_url):
        options["CONNECTION_FACTORY"] = "gateway_project.redis_cluster.ClusterConnectionFactory"
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "gw",
            "OPTIONS": options,
        }
    }


CACHES = cache_settings(REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "keys.authentication.AdminTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["keys.permissions.IsGatewayAdmin"],
    "DEFAULT_PAGINATION_CLASS": "gateway_project.pagination.AdminPagination",
    "PAGE_SIZE": 10,
    # JSON only, bounded in size (DATA_UPLOAD_MAX_MEMORY_SIZE) and depth; forms are a 415.
    "DEFAULT_PARSER_CLASSES": ["gateway_project.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "gateway_project.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "gateway_project.schema.GatewayAutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # the API takes JSON only
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Gateway admin API",
    "DESCRIPTION": "Gateways, upstreams, services, rules, plugins and API keys.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page and the schema hold no data (every operation needs a token or a staff
    # session): readable by anyone unless GATEWAY_PUBLIC_API_DOCS=false.
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if env_bool("GATEWAY_PUBLIC_API_DOCS", True)
        else "keys.permissions.IsGatewayAdmin"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",  # served by the gateway itself, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

GATEWAY = {
    "BASE_DOMAIN": GATEWAY_BASE_DOMAIN,
    "ROLE": os.environ.get("GATEWAY_ROLE", "all"),
    "TRUSTED_PROXIES": env_list("GATEWAY_TRUSTED_PROXIES"),
    "CONNECT_TIMEOUT": float(os.environ.get("GATEWAY_CONNECT_TIMEOUT", "5")),
    "READ_TIMEOUT": float(os.environ.get("GATEWAY_READ_TIMEOUT", "60")),
    "CONFIG_CHECK_INTERVAL": float(os.environ.get("GATEWAY_CONFIG_CHECK_INTERVAL", "0.1")),
    "MAX_BODY_BYTES": int(os.environ.get("GATEWAY_MAX_BODY_BYTES", str(32 * 1024 * 1024))),
    "BODY_READ_TIMEOUT": float(os.environ.get("GATEWAY_BODY_READ_TIMEOUT", "30")),
    "MAX_JSON_DEPTH": int(os.environ.get("GATEWAY_MAX_JSON_DEPTH", "64")),
    # e.g. 169.254.0.0/16,127.0.0.0/8; parsed here so a typo stops the start-up
    "UPSTREAM_DENY": [
        str(ipaddress.ip_network(cidr, strict=False)) for cidr in env_list("GATEWAY_UPSTREAM_DENY")
    ],
    "CONFIG_DB_CHECK_INTERVAL": float(os.environ.get("GATEWAY_CONFIG_DB_CHECK_INTERVAL", "2")),
    "SNAPSHOT_CACHE_SIZE": int(os.environ.get("GATEWAY_SNAPSHOT_CACHE_SIZE", "1000")),
    "UNKNOWN_HOST_CACHE_SIZE": int(os.environ.get("GATEWAY_UNKNOWN_HOST_CACHE_SIZE", "10000")),
    "SNAPSHOT_BUILD_CONCURRENCY": int(os.environ.get("GATEWAY_SNAPSHOT_BUILD_CONCURRENCY", "2")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if PRODUCTION:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
