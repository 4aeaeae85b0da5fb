"""Settings of injection_protection, code_sanitation and prompt_moderation at the admin edge:
400 naming the field, stored normalised."""

from __future__ import annotations

import pytest

from plugins.models import PluginConfig
from tests.plugins.helpers import settings_errors

pytestmark = pytest.mark.django_db

CHECK_BODY = {"content_to_check": ["body"]}
MODERATION = {"keywords": ["bomb"], "actions": {"type": "block"}}
LOOKBEHIND = "(?<=a)b"


@pytest.mark.parametrize(
    ("name", "settings", "field"),
    [
        ("injection_protection", {}, "content_to_check"),
        ("injection_protection", {"content_to_check": []}, "content_to_check"),
        ("injection_protection", {"content_to_check": ["cookies"]}, "content_to_check"),
        ("injection_protection", {**CHECK_BODY, "status_code": 99}, "status_code"),
        ("injection_protection", {**CHECK_BODY, "status_code": 600}, "status_code"),
        ("injection_protection", {**CHECK_BODY, "action": "sanitize"}, "action"),
        (
            "injection_protection",
            {**CHECK_BODY, "predefined_injections": [{"type": "sqli"}]},
            "predefined_injections",
        ),
        (
            "injection_protection",
            {**CHECK_BODY, "custom_injections": [{"name": "x", "pattern": LOOKBEHIND}]},
            "custom_injections",
        ),
        ("injection_protection", {**CHECK_BODY, "blocking": True}, "blocking"),
        ("code_sanitation", CHECK_BODY, "languages"),
        ("code_sanitation", {**CHECK_BODY, "languages": [{"language": "cobol"}]}, "languages"),
        (
            "code_sanitation",
            {**CHECK_BODY, "apply_all_languages": True, "sanitize_char": "XX"},
            "sanitize_char",
        ),
        ("code_sanitation", {**CHECK_BODY, "apply_all_languages": "true"}, "apply_all_languages"),
        (
            "code_sanitation",
            {**CHECK_BODY, "apply_all_languages": True, "action": "drop"},
            "action",
        ),
        ("prompt_moderation", {"actions": {"type": "block"}}, "keywords"),
        ("prompt_moderation", {"keywords": ["bomb"]}, "actions"),
        ("prompt_moderation", {**MODERATION, "similarity_threshold": 1.5}, "similarity_threshold"),
        ("prompt_moderation", {**MODERATION, "regex": ["(a)\\1"]}, "regex"),
        ("prompt_moderation", {**MODERATION, "roles": ["robot"]}, "roles"),
        ("prompt_moderation", {**MODERATION, "actions": {"type": "warn"}}, "actions"),
    ],
)
def test_invalid_settings_are_refused_naming_the_field(create_gateway_with, name, settings, field):
    errors = settings_errors(create_gateway_with(name, settings))
    assert field in errors, errors
    assert not PluginConfig.objects.exists()


def test_a_pattern_re2_cannot_run_in_linear_time_is_refused_with_the_reason(create_gateway_with):
    settings = {**CHECK_BODY, "custom_injections": [{"name": "x", "pattern": LOOKBEHIND}]}
    errors = settings_errors(create_gateway_with("injection_protection", settings))
    [message] = errors["custom_injections"]["0"]["pattern"]
    assert message.startswith("not a valid RE2 regular expression")


def test_settings_are_stored_with_their_defaults(api, create_gateway_with):
    response = create_gateway_with(
        "code_sanitation", {**CHECK_BODY, "apply_all_languages": True, "action": "enforce"}
    )
    assert response.status_code == 201, response.json()
    [plugin] = response.json()["required_plugins"]
    assert plugin["settings"] == {
        "apply_all_languages": True,
        "languages": [],
        "custom_patterns": [],
        "content_to_check": ["body"],
        "action": "block",
        "status_code": 400,
        "error_message": "Potential code injection detected",
        "sanitize_char": "X",
    }
    response = create_gateway_with("prompt_moderation", MODERATION)
    assert response.json()["required_plugins"][0]["settings"] == {
        "keywords": ["bomb"],
        "regex": [],
        "similarity_threshold": 0.8,
        "actions": {"type": "block", "message": "Content blocked"},
        "roles": ["user", "system", "developer", "assistant", "tool", "function"],
    }


def test_the_bench_row_settings_are_accepted(create_gateway_with):
    from bench.scenarios import PLUGIN_SETTINGS

    response = create_gateway_with("injection_protection", PLUGIN_SETTINGS["injection_protection"])
    assert response.status_code == 201, response.json()
