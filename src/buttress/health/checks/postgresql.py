"""PostgreSQL: connect, ``SELECT 1``; the detail is the server version."""

from __future__ import annotations

from buttress.health.checks.base import Probe

__all__ = ["postgresql"]


def postgresql(dsn: str, timeout: float) -> Probe:
    async def probe() -> str:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            dsn, connect_timeout=max(1, int(timeout)), autocommit=True
        )
        try:
            cur = await conn.execute("SELECT 1, current_setting('server_version')")
            row = await cur.fetchone()
            if row is None:
                raise RuntimeError("SELECT 1 answered no row")
            return f"PostgreSQL {row[1]}"
        finally:
            await conn.close()

    return probe
