"""Gateways and their routing model (upstreams, services, rules) plus the compiled snapshot."""
