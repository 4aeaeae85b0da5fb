"""Shared setting fields: seconds given as numbers or durations, and who uses them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rest_framework import serializers

from gateway_project.fields import SecondsField
from plugins.schema import field_schema

BUILTIN = Path(__file__).resolve().parents[2] / "plugins" / "builtin"


@pytest.mark.parametrize(
    ("given", "seconds"),
    [(600, 600), ("600", 600), (" 86400 ", 86400), ("10m", 600), ("1h30m", 5400), (0, 0)],
)
def test_seconds_field_reads_numbers_and_whole_second_durations(given, seconds):
    assert SecondsField().run_validation(given) == seconds


@pytest.mark.parametrize("given", [True, 1.5, None, "soon", "1500ms", -1, 61, "2m", [1]])
def test_seconds_field_refuses_other_values_and_its_bounds(given):
    with pytest.raises(serializers.ValidationError):
        SecondsField(max_value=60, allow_null=False).run_validation(given)


def test_seconds_field_schema_states_its_bounds():
    schema = field_schema(SecondsField(max_value=60))
    assert schema == {"type": ["integer", "string"], "minimum": 0, "maximum": 60}


def test_builtin_plugins_read_durations_only_through_the_shared_fields():
    """A plugin's settings take durations through gateway_project.fields (DurationField,
    SecondsField): no built-in declares a field of its own that parses them."""
    for path in BUILTIN.glob("*.py"):
        tree = ast.parse(path.read_text())
        fields = [
            node.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ClassDef)
            and any(
                isinstance(base, ast.Attribute) and base.attr.endswith("Field")
                for base in node.bases
            )
            and "parse_duration_ms" in ast.unparse(node)
        ]
        assert fields == [], (path.name, fields)
