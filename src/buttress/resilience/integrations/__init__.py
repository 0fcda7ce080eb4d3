"""Integrations of the policies with web frameworks and HTTP clients (imported on demand)."""
