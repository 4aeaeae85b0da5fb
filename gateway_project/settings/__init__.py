"""Settings package: `GATEWAY_ENV=production` selects production.py, anything else base.py.

`DJANGO_SETTINGS_MODULE` may also name a module of this package directly (pytest: test.py).
"""

from gateway_project import env

if env.is_production():
    from gateway_project.settings.production import *  # noqa: F403
else:
    from gateway_project.settings.base import *  # noqa: F403
