"""MariaDB/MySQL: connect, ``SELECT VERSION()`` (PyMySQL, in a worker thread)."""

from __future__ import annotations

import asyncio

from buttress.health.checks.base import Probe

__all__ = ["mariadb"]


def mariadb(dsn: str, timeout: float) -> Probe:
    from buttress.platform.dsn import parse_mariadb_dsn  # the one reader, shared with backup

    params = parse_mariadb_dsn(dsn)

    def blocking() -> str:
        import pymysql

        conn = pymysql.connect(
            host=params["host"], port=params["port"], user=params["user"],
            password=params["password"], database=params["database"],
            connect_timeout=max(1, int(timeout)), read_timeout=max(1, int(timeout)),
        )  # fmt: skip
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                row = cur.fetchone()
                if row is None:
                    raise RuntimeError("SELECT VERSION() answered no row")
                return f"MariaDB {row[0]}" if "MariaDB" in str(row[0]) else f"MySQL {row[0]}"
        finally:
            conn.close()

    async def probe() -> str:
        return await asyncio.to_thread(blocking)

    return probe
