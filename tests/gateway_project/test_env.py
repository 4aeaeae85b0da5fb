"""gateway_project.env: the one reader of environment variables, and the settings it selects."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway_project import env
from gateway_project.conf import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("gateway_project", "gateways", "keys", "observability", "plugins", "proxy")


def test_unset_or_empty_variables_give_the_defaults():
    assert env.gateway_from_env({}) == env.gateway_defaults()
    assert env.gateway_from_env({"GATEWAY_READ_TIMEOUT": "  "})["READ_TIMEOUT"] == 60.0
    # unset: the settings decide from GATEWAY_BIND (public on loopback only)
    assert env.read("GATEWAY_PUBLIC_API_DOCS", {"GATEWAY_PUBLIC_API_DOCS": ""}) is None


def test_gateway_settings_defaults_come_from_the_catalogue():
    assert {key: DEFAULTS[key] for key in env.gateway_defaults()} == env.gateway_defaults()
    assert set(DEFAULTS) - set(env.gateway_defaults()) == {"PLUGINS"}


def test_values_are_parsed_and_normalised():
    gateway = env.gateway_from_env(
        {
            "GATEWAY_BASE_DOMAIN": " GW.Example.COM. ",
            "GATEWAY_TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16,",
            "GATEWAY_UPSTREAM_DENY": "169.254.1.1/16,::1",
            "GATEWAY_MAX_BODY_BYTES": "1024",
            "GATEWAY_CONNECT_TIMEOUT": "1.5",
        }
    )
    assert gateway["BASE_DOMAIN"] == "gw.example.com"
    assert gateway["TRUSTED_PROXIES"] == ["10.0.0.1", "10.1.0.0/16"]
    assert gateway["UPSTREAM_DENY"] == ["169.254.0.0/16", "::1/128"]
    assert gateway["MAX_BODY_BYTES"] == 1024
    assert gateway["CONNECT_TIMEOUT"] == 1.5
    assert env.read("DEBUG", {"DEBUG": "Yes"}) is True
    assert env.read("DEBUG", {"DEBUG": "off"}) is False


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DEBUG", "maybe"),
        ("GATEWAY_MAX_BODY_BYTES", "32MB"),
        ("GATEWAY_READ_TIMEOUT", "soon"),
        ("GATEWAY_UPSTREAM_DENY", "10.0.0.0/33"),
    ],
)
def test_a_malformed_value_names_its_variable(name, raw):
    with pytest.raises(env.EnvError, match=name):
        env.read(name, {name: raw})


def test_every_variable_is_documented():
    table = env.markdown_table()
    for variable in env.VARIABLES.values():
        assert variable.meaning
        assert f"| `{variable.name}` |" in table


def test_the_readme_shows_the_current_table():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert env.markdown_table().strip() in readme, "regenerate it: python -m gateway_project.env"


def environment_reads(path: Path) -> list[str]:
    """`os.environ.get(...)`, `os.environ[...]` (read), `os.getenv(...)` in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        call = isinstance(node, ast.Attribute) and node.attr in {"get", "getenv"}
        load = isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load)
        if (call or load) and ast.unparse(node.value) in {"os.environ", "os"}:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_only_the_catalogue_reads_the_environment():
    files = [ROOT / "manage.py"]
    for package in PROJECT_PACKAGES:
        files += (ROOT / package).rglob("*.py")
    reads = [hit for path in files for hit in environment_reads(path)]
    assert all(hit.startswith("gateway_project/env.py:") for hit in reads), reads


def settings_of(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    """Load Django settings in a fresh interpreter; print a few of them as JSON."""
    script = (
        "import json; from django.conf import settings as s; print(json.dumps({"
        "'production': s.PRODUCTION, 'secure': s.SESSION_COOKIE_SECURE, "
        "'role': s.GATEWAY['ROLE'], 'hashers': s.PASSWORD_HASHERS[:1]}))"
    )
    variables = {"PATH": "/usr/bin:/bin", "GATEWAY_VAR_DIR": str(tmp_path), **variables}
    command = [sys.executable, "-c", script]
    return subprocess.run(command, cwd=ROOT, env=variables, capture_output=True, text=True)


def loaded(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_default_module_is_development(tmp_path):
    values = loaded(settings_of(tmp_path, DJANGO_SETTINGS_MODULE="gateway_project.settings"))
    assert values["production"] is False
    assert values["secure"] is False
    assert (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    "selection",
    [
        {"DJANGO_SETTINGS_MODULE": "gateway_project.settings", "GATEWAY_ENV": "production"},
        {"DJANGO_SETTINGS_MODULE": "gateway_project.settings.production"},
    ],
)
def test_production_is_selected_and_requires_a_secret_key(tmp_path, selection):
    values = loaded(settings_of(tmp_path, SECRET_KEY="s3cret", GATEWAY_ROLE="proxy", **selection))
    assert values == {
        "production": True,
        "secure": True,
        "role": "proxy",
        "hashers": ["django.contrib.auth.hashers.PBKDF2PasswordHasher"],
    }
    refused = settings_of(tmp_path, **selection)
    assert refused.returncode != 0
    assert "SECRET_KEY must be set in production" in refused.stderr


def test_a_malformed_variable_stops_the_settings(tmp_path):
    refused = settings_of(
        tmp_path, DJANGO_SETTINGS_MODULE="gateway_project.settings", GATEWAY_MAX_JSON_DEPTH="deep"
    )
    assert refused.returncode != 0
    assert "GATEWAY_MAX_JSON_DEPTH='deep'" in refused.stderr
