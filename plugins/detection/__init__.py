"""Threat detection shared by injection_protection, code_sanitation and prompt_moderation."""
