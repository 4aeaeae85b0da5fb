"""API keys (hashed) and admin tokens, with the verification the proxy calls."""
