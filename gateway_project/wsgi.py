"""WSGI entry point (gunicorn: gateway_project.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

from gateway_project.request_body import RequestBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")

application = RequestBodyMiddleware(get_wsgi_application())
