"""Markdown pieces of the report: numbers, tables, a row's status, a section without data."""

from __future__ import annotations

from typing import Any

NO_DATA = ("skipped", "failed")


def fmt(value: Any, digits: int = 2) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(columns: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def status_text(row: dict[str, Any]) -> str:
    if row["status"] == "ok":
        return "ok" + (" ⚠" if row.get("notes") else "")
    if row["status"] == "errors":
        return "**ERRORS**"
    return f"**{row['status']}**: {row['reason'][:120]}"


def no_data_section(title: str, row: dict[str, Any]) -> list[str]:
    """A section whose measurement did not happen: its status and why, instead of a table."""
    return [title, "", f"**{row['status']}**: {row.get('reason', '')[:120]}", ""]
