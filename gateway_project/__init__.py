"""The gateway's Django project: settings, URLs, WSGI, gunicorn config and embedded Redis."""

__version__ = "1.0.0"  # the app version: GET /api/v1/version and the OpenAPI schema
