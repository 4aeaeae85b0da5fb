"""OpenTelemetry traces of proxied requests, exported in the background (see README Traces)."""
