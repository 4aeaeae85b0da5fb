"""Test settings (pytest-django): the suite's own Redis and a fast password hasher."""

import os
import tempfile
from pathlib import Path

from gateway_project import env
from gateway_project.embedded_redis import ensure_embedded_redis
from gateway_project.settings.base import *  # noqa: F403
from gateway_project.settings.base import cache_settings

# TEST_REDIS_URL if given, else a fresh embedded Redis for this run (tests/conftest.py stops it
# at the end); exported so that servers the tests start share it.
TEST_REDIS_DIR = Path(tempfile.gettempdir()) / f"gw-test-redis-{os.getpid()}"
TEST_REDIS_URL = env.read("TEST_REDIS_URL") or ensure_embedded_redis(TEST_REDIS_DIR)
os.environ["TEST_REDIS_URL"] = TEST_REDIS_URL
REDIS_URL = TEST_REDIS_URL
CACHES = cache_settings(TEST_REDIS_URL)

# admin_user (pytest-django) sets a password: PBKDF2 would cost ~0.4 s per admin test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
