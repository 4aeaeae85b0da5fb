"""Streamed answers as text: each delta of an SSE stream (OpenAI chat chunks, Anthropic and
Responses events) or a plain text stream goes through the plugins' text filters as it arrives,
and the events are written again around what the filters let through."""
