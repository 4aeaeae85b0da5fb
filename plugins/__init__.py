"""Plugin configurations, the plugin base class, registry, pipeline and built-in plugins."""
