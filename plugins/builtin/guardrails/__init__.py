"""Guardrail plugins: remote moderation and verdict services on prompts and answers."""
