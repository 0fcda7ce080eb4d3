"""The incidents tests use the API fixture of tests/server (the app on each catalog backend,
a token per role)."""

from tests.server.conftest import api

__all__ = ["api"]
