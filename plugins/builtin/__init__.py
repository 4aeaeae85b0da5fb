"""The built-in plugins, one module each."""
