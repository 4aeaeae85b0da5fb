"""Production: base settings with a required SECRET_KEY and HTTPS-only cookies."""

from django.core.exceptions import ImproperlyConfigured

from gateway_project import env
from gateway_project.settings.base import *  # noqa: F403

PRODUCTION = True
SECRET_KEY = env.read("SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set in production")
SESSION_COOKIE_SECURE = env.read("SESSION_COOKIE_SECURE")
CSRF_COOKIE_SECURE = env.read("CSRF_COOKIE_SECURE")
