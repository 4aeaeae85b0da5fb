"""Local LLM provider servers speaking each provider's wire format, for tests and the bench."""
