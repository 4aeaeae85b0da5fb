"""Real clients (Python and Node SDKs) against the gateway under gunicorn, for every provider."""
