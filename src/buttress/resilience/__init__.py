"""Resilience policies for calls to dependencies (circuit breaker, retry, timeout, rate
limiter, bulkhead, fallback, pipelines).

This package imports nothing beyond the standard library: no server, database, Redis or
metrics stack (checked by ``tests/test_imports.py``). The policies themselves are the work of
the resilience-policies issue; this module only reserves the import path.
"""

__all__: list[str] = []
