"""The plugin SDK (sdk/), plugin configurations, the base class, registry, pipeline, the
detection engine and the built-in plugins."""
