"""WebSocket connections through a rule: the handshake checked like any request, then frames
relayed both ways (proxy/ws/session.py)."""
