"""Test settings (pytest-django): the suite's own Redis and a fast password hasher."""

import os
import tempfile
from pathlib import Path

from gateway_project import env
from gateway_project.embedded_redis import ensure_embedded_redis
from gateway_project.settings.base import *  # noqa: F403
from gateway_project.settings.base import cache_settings

# TEST_REDIS_URL if given, else a fresh embedded Redis for this process (tests/conftest.py stops
# it at the end); exported so that servers the tests start share it. Each pytest-xdist worker
# starts its own: the URL a worker inherits from the controller's start is not shared.
TEST_REDIS_DIR = Path(tempfile.gettempdir()) / f"gw-test-redis-{os.getpid()}"
# Which pytest-xdist worker's Redis TEST_REDIS_URL names ("" for the controller or a plain run):
# a worker does not use the one it inherits, its subprocesses use the worker's.
WORKER, OWNER = env.read("PYTEST_XDIST_WORKER"), env.read("GW_TEST_REDIS_OWNER")
_given = env.read("TEST_REDIS_URL") if OWNER == WORKER else None
TEST_REDIS_URL = _given or ensure_embedded_redis(TEST_REDIS_DIR)
os.environ["GW_TEST_REDIS_OWNER"] = WORKER
os.environ["TEST_REDIS_URL"] = TEST_REDIS_URL
REDIS_URL = TEST_REDIS_URL
CACHES = cache_settings(TEST_REDIS_URL)

# admin_user (pytest-django) sets a password: PBKDF2 would cost ~0.4 s per admin test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
