"""Exporters for the resilience event path: Prometheus and OpenTelemetry (optional extras)."""
