"""Webhook sources. Each is a module with a Source class; the registry is in receiver/__init__.py."""
