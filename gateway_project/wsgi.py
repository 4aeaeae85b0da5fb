"""WSGI entry point (gunicorn: gateway_project.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application
from django.utils.module_loading import import_string

from gateway_project.request_body import RequestBodyMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_project.settings")

# The entry point composes the planes, as the URLconf does: gateway hosts' requests go to the
# proxy's front without Django's request handler, every other request to Django.
PROXY_FRONT = "proxy.wsgi_front.ProxyFront"

django_application = get_wsgi_application()
application = RequestBodyMiddleware(import_string(PROXY_FRONT)(django_application))
