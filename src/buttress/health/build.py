"""Checks from the ``health:`` section of buttress.yaml."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from buttress.errors import UsageError
from buttress.health.checks.base import Check, Probe, importing

if TYPE_CHECKING:
    from buttress.config import HealthCheckConfig, HealthConfig

__all__ = ["build_check", "build_checks", "load_callable"]


def _probe(c: HealthCheckConfig, base_dir: Path | None) -> Probe:
    from buttress import config as k  # the kinds of check (config is loaded by now)

    if isinstance(c, k.PostgresqlCheckConfig):
        from buttress.health.checks.postgresql import postgresql

        return postgresql(c.dsn, c.timeout)
    if isinstance(c, k.MariadbCheckConfig):
        from buttress.health.checks.mariadb import mariadb

        return mariadb(c.dsn, c.timeout)
    if isinstance(c, k.RedisCheckConfig):
        from buttress.health.checks.redis import redis

        return redis(c.dsn, c.timeout)
    if isinstance(c, k.S3CheckConfig):
        from buttress.health.checks.s3 import s3

        secret = c.secret_access_key.get_secret_value() if c.secret_access_key else None
        return s3(
            c.bucket,
            endpoint_url=c.endpoint_url,
            region=c.region,
            access_key_id=c.access_key_id,
            secret_access_key=secret,
            timeout=c.timeout,
        )
    if isinstance(c, k.HttpCheckConfig):
        from buttress.health.checks.http import http

        return http(c.url, c.timeout, tuple(c.expect_status))
    if isinstance(c, k.TcpCheckConfig):
        from buttress.health.checks.tcp import tcp

        return tcp(c.host, c.port)
    if isinstance(c, k.DiskCheckConfig):
        from buttress.health.checks.disk import disk

        return disk(c.path, c.min_free_percent)
    if isinstance(c, k.CustomCheckConfig):
        from buttress.health.checks.custom import custom

        return custom(load_callable(f"check {c.name}", c.callable, base_dir))
    raise UsageError(f"check {c.name}: type {c.type!r} is not supported yet")


@contextlib.contextmanager
def _on_path(directory: Path) -> Iterator[None]:
    """``directory`` first on the import path for one import (then as it was)."""
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)
        importlib.invalidate_caches()


def _import(module_name: str, base_dir: Path | None) -> Any:
    """The module, from the import path, else from ``base_dir`` (the config file's directory)."""
    top = module_name.split(".")[0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if base_dir is None or exc.name != top:
            raise
    with _on_path(base_dir):
        return importlib.import_module(module_name)


def load_callable(name: str, spec: str, base_dir: Path | None = None) -> Any:
    """The callable ``module:function``; the module is looked for on the import path, then
    in ``base_dir`` (the directory of buttress.yaml)."""
    module_name, _, attr = spec.partition(":")
    try:
        module = _import(module_name, base_dir)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0]:  # the module itself imports a missing one
            raise UsageError(f"{name}: cannot load {spec!r}: {exc}") from None
        where = f"{base_dir} (the config file's directory) and " if base_dir else ""
        raise UsageError(
            f"{name}: cannot load {spec!r}: no module {exc.name!r} in {where}the import path "
            f"(current directory {Path.cwd()}, PYTHONPATH); put {exc.name}.py beside "
            "buttress.yaml or add its directory to PYTHONPATH"
        ) from None
    except ImportError as exc:
        raise UsageError(f"{name}: cannot load {spec!r}: {exc}") from None
    fn = getattr(module, attr, None)
    if fn is None:
        raise UsageError(f"{name}: cannot load {spec!r}: {module_name} has no {attr!r}")
    if not callable(fn):
        raise UsageError(f"{name}: {spec!r} is not callable")
    return fn


def build_check(c: HealthCheckConfig, base_dir: Path | None = None) -> Check:
    probe = _probe(c, base_dir)
    return Check(
        name=c.name,
        kind=c.type,
        probe=probe,
        interval=c.interval,
        timeout=c.timeout,
        weight=c.weight,
        critical=c.critical,
        slow=c.slow,
        prepare=_prepare(c.type, probe),
    )


# what each kind's probe imports on first use: imported before its first timed run
_IMPORTS: dict[str, tuple[str, ...]] = {
    "postgresql": ("psycopg",),
    "mariadb": ("pymysql",),
    "redis": ("redis.asyncio",),
    "s3": ("boto3",),
}


def _prepare(kind: str, probe: Probe) -> Callable[[], None] | None:
    own = getattr(probe, "prepare", None)  # a probe with setup of its own (http: its client)
    if callable(own):
        return cast("Callable[[], None]", own)
    return importing(*_IMPORTS[kind]) if kind in _IMPORTS else None


def build_checks(config: HealthConfig, base_dir: Path | None = None) -> list[Check]:
    """The checks of ``config``; custom checks' modules are also looked for in ``base_dir``
    (pass :attr:`ButtressConfig.base_dir`)."""
    return [build_check(c, base_dir) for c in config.checks]
