"""The data plane: host-resolving middleware, rule matching, forwarding and streaming."""
