"""The pins: requirements.txt alone runs the server, requirements-dev.txt adds what tests use."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from functools import cache
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_CODE = (
    "gateway_project",
    "gateways",
    "keys",
    "observability",
    "plugins",
    "proxy",
    "manage.py",
)
# Pinned for development without being imported by the tests.
DEV_TOOLS = {
    "ruff": "make lint",
    "pytest-django": "the pytest plugin pyproject.toml configures",
    "pytest-xdist": "make test runs the suite on every core (-n)",
    "execnet": "pytest-xdist's worker processes",
    "google-auth": "google-genai's credentials, installed by it",
}
# Imported by a dependency when installed (the development venv has it), never required.
OPTIONAL_IMPORTS = {
    "pygments": "rest_framework.compat",
    "pysocks": "requests.adapters (SOCKS proxies); selenium's urllib3[socks] installs it",
    "cryptography": "redis.utils (OCSP checks); google-auth (google-genai) installs it",
    "xxhash": "redis.commands.helpers; langsmith (langchain-core) installs it",
}
# What the server loads: the gunicorn worker class, the WSGI application and every URL's view.
LOADED_BY_THE_SERVER = """
import json, sys
before = set(sys.modules)  # the interpreter's own start-up (site, .pth files)
import gateway_project.workers, gateway_project.wsgi
from django.urls import get_resolver
get_resolver().url_patterns
from tests.test_requirements import distributions_of
print(json.dumps(sorted(distributions_of(set(sys.modules) - before))))
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def pins(filename: str, *, includes: bool = True) -> frozenset[str]:
    """Distributions pinned in a requirements file, and in the files it includes (`-r`)."""
    names: set[str] = set()
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            names |= pins(line[3:].strip()) if includes else set()
        elif line:
            assert "==" in line, f"{filename}: {line!r} is not pinned"
            names.add(canonical(re.split(r"[\[=]", line, maxsplit=1)[0]))
    return frozenset(names)


def distributions_of(modules: set[str]) -> set[str]:
    """The distributions owning `modules`; in a namespace package several distributions share
    (`google`: protobuf, google-auth, google-genai), the ones holding the module's sub-package."""
    owners = packages_distributions()
    found: set[str] = set()
    for module in modules:
        top, _, rest = module.partition(".")
        dists = owners.get(top, [])
        if len(set(dists)) > 1:
            if not rest:  # the namespace alone: no distribution's code
                continue
            folder = f"{top}/{rest.split('.')[0]}"
            dists = [d for d in dists if any(str(f).startswith(folder) for f in _files(d))]
        found.update(dists)
    return found


@cache
def _files(dist: str) -> tuple:
    return tuple(distribution(dist).files or ())


def imported_distributions(*paths: str) -> set[str]:
    """Distributions of the third-party modules the code under `paths` imports."""
    modules: set[str] = set()
    for path in paths:
        root = ROOT / path
        for file in [root] if root.is_file() else root.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text())):
                if isinstance(node, ast.Import):
                    modules |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {canonical(dist) for dist in distributions_of(modules)}


def test_every_distribution_the_server_loads_is_pinned_in_requirements(tmp_path):
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gateway_project.settings",
        "GATEWAY_VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never connected to: only imports run
    }
    done = subprocess.run(
        [sys.executable, "-c", LOADED_BY_THE_SERVER],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    loaded = {canonical(dist) for dist in json.loads(done.stdout)}
    assert {"gunicorn", "gevent", "django", "requests", "urllib3"} <= loaded
    assert loaded - pins("requirements.txt") - set(OPTIONAL_IMPORTS) == set()


def test_third_party_imports_of_the_server_are_pinned_in_requirements():
    assert imported_distributions(*RUNTIME_CODE) - pins("requirements.txt") == set()


def test_third_party_imports_of_the_tests_are_pinned():
    assert imported_distributions("tests") - pins("requirements-dev.txt") == set()


def test_every_development_pin_is_imported_by_the_tests_or_a_tool():
    used = imported_distributions("tests") | set(DEV_TOOLS)
    assert pins("requirements-dev.txt", includes=False) - used == set()
