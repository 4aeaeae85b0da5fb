"""LLM providers: the OpenAI-compatible front and the translation to and from each provider."""
