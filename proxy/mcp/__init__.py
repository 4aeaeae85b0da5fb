"""MCP servers behind a rule: sessions, the tools of several servers as one, tools per key."""
