"""WSGI entry point (gunicorn: gateway_project.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

from gateway_project.conf import gateway_settings
from gateway_project.request_body import RequestBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")

django_application = get_wsgi_application()
front = import_string(gateway_settings.WSGI_FRONT)  # gateway hosts: the proxy, without Django's
application = RequestBodyMiddleware(front(django_application))  # handler; the others: Django
