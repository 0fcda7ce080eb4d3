"""Health checks, health score, degradation levels, feature flags and load shedding.

Like ``buttress.resilience`` this package stays light: no server, database or object-storage
stack is imported with it (checked by ``tests/test_imports.py``). The checks and levels are
the work of the health issue; this module only reserves the import path.
"""

__all__: list[str] = []
