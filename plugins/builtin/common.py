"""Helpers shared by built-in plugins (the field types live in plugins.fields)."""

from __future__ import annotations

from plugins.fields import HeaderNameField, is_header_name

__all__ = ["HeaderNameField", "is_header_name"]
