"""The gateway's Django project: settings, URLs, WSGI, gunicorn config and embedded Redis."""
