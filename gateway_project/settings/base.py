"""Settings shared by every environment (development as is), read through gateway_project.env.

production.py and test.py start from these and override; GATEWAY holds our own knobs.
"""

from __future__ import annotations

import secrets

import dj_database_url
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway_project import __version__, env
from gateway_project.binding import loopback_only
from gateway_project.embedded_redis import socket_url
from gateway_project.redis_cluster import is_cluster_url

BASE_DIR = env.BASE_DIR
VAR_DIR = env.var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def development_secret_key() -> str:
    """A secret key generated once and kept in var/ (development only)."""
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


PRODUCTION = False
DEBUG = env.read("DEBUG")
SECRET_KEY = env.read("SECRET_KEY") or development_secret_key()

GATEWAY = env.gateway_from_env()
GATEWAY_BASE_DOMAIN = GATEWAY["BASE_DOMAIN"]
ALLOWED_HOSTS = env.read("ALLOWED_HOSTS") or [
    "localhost",
    "127.0.0.1",
    "[::1]",
    "testserver",
    f".{GATEWAY_BASE_DOMAIN}",
]
CSRF_TRUSTED_ORIGINS = env.read("CSRF_TRUSTED_ORIGINS")

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
    "observability",
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
    "observability.audit.AdminWriteLogMiddleware",
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
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5


def database_settings(url: str, conn_max_age: int | None) -> dict:
    """Django's database entry for `url`. PostgreSQL gets a connect timeout unless the URL sets
    one: without it an unreachable host holds /readyz (and a config rebuild) for minutes."""
    database = dj_database_url.parse(url, conn_max_age=conn_max_age)
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database["CONN_MAX_AGE"] = 0
        database["OPTIONS"] = {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif "postgresql" in database["ENGINE"]:
        database.setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", POSTGRES_CONNECT_TIMEOUT_SECONDS
        )
    return database


DATABASES = {
    "default": database_settings(
        env.read("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'gateway.sqlite3'}",
        env.read("DATABASE_CONN_MAX_AGE"),
    )
}

REDIS_URL = env.read("REDIS_URL") or socket_url(VAR_DIR / "redis.sock")


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

public_api_docs = env.read("GATEWAY_PUBLIC_API_DOCS")
if public_api_docs is None:
    public_api_docs = loopback_only([env.read("GATEWAY_BIND")])
SPECTACULAR_SETTINGS = {
    "TITLE": "Gateway admin API",
    "DESCRIPTION": "Gateways, upstreams, services, rules, plugins and API keys.",
    "VERSION": __version__,
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page and the schema hold no data (every operation needs a token or a staff
    # session), but map the API for whoever reaches it: readable by anyone on a server bound
    # to loopback only, else with an admin token or a staff session (GATEWAY_PUBLIC_API_DOCS
    # decides either way when set).
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if public_api_docs
        else "keys.permissions.IsGatewayAdmin"
    ],
    "SWAGGER_UI_DIST": "SIDECAR",  # served by the gateway itself, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {"PluginOwnerTypeEnum": ["gateway", "rule"]},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.read("LOG_LEVEL")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
