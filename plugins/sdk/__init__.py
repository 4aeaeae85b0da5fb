"""The plugin SDK: what plugins and the proxy share (request and response contexts, findings,
the LLM call, the texts of LLM bodies, server-sent events and the stream text filters)."""
