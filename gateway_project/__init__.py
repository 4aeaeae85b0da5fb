"""The gateway's Django project: settings, URLs, WSGI, gunicorn config, embedded Redis, and the
kernel every app may use (fields, durations, the JSON string walker, header lists)."""

__version__ = "1.0.0"  # the app version: GET /api/v1/version and the OpenAPI schema
