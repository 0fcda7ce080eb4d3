"""The Lua scripts a shared store runs: each in a ``.lua`` file next to the module that owns it.

A domain loads its scripts once, at import, with :func:`load`: the rate limits'
(``resilience/rate_limit/*.lua``), the breaker's, bulkhead's and retry budget's
(``resilience/*.lua``), the fleet level's (``degradation/level_report.lua``). Each script is
the store's prelude (``state/prelude.lua``: ``now`` on the Redis clock and the number helpers),
then the fragments it includes (files of its own package whose names start with ``_``), then
its own file. The store runs a script by its SHA-1 (EVALSHA) and sends its text once when Redis
does not know it (NOSCRIPT, e.g. after a restart): Redis keeps it from then on.

Times are integer microseconds from ``TIME`` (exact in a double), so replicas with skewed
clocks agree, and window boundaries are compared without rounding. Numbers are stored exactly:
passed to ``redis.call`` as numbers (Redis writes them with 17 digits), or packed with
``%.17g``. Each state is one key written with one ``SET ... PX`` where it can be: every
``redis.call`` costs a few microseconds of the server's single thread. The last argument of
every script is empty, or a pinned time in microseconds (tests only).

Importing this module loads no Redis client.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["Script", "load", "loaded"]


@dataclass(frozen=True)
class Script:
    """One Lua script, as the store sends it.

    ``keys`` are the suffixes of its ``KEYS`` after a state's base key, for the scripts
    :meth:`~buttress.state.SharedStateStore.limit` runs (``("", ":m")``: the key and its
    meta key); the other scripts' callers pass their keys themselves.
    """

    name: str
    text: str
    keys: tuple[str, ...] = ("",)
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())  # noqa: S324  # Redis names scripts by SHA-1


_lock = threading.Lock()
_loaded: dict[str, Script] = {}
_sources: dict[str, str] = {}  # script name -> "package/file", to refuse a second owner


def _read(package: str, file: str) -> str:
    try:
        return resources.files(package).joinpath(file).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise FileNotFoundError(
            f"Lua script {file!r} of package {package!r} not found (is it in the wheel?): {exc}"
        ) from None


def load(
    package: str, name: str, *, include: Sequence[str] = (), keys: tuple[str, ...] = ("",)
) -> Script:
    """The script ``<package>/<name>.lua`` after the prelude and the fragments ``include``
    (``_<fragment>.lua`` files of the same package), read once per process.

    Raises:
        FileNotFoundError: a file is missing (named with its package).
        ValueError: another package already loaded a script of that name.
    """
    where = f"{package}/{name}.lua"
    with _lock:
        script = _loaded.get(name)
        if script is not None:
            if _sources[name] != where:
                raise ValueError(
                    f"Lua script name {name!r} of {where} is already taken by {_sources[name]}"
                )
            return script
        parts = [_read("buttress.state", "prelude.lua")]
        parts += [_read(package, f"_{fragment}.lua") for fragment in include]
        parts.append(_read(package, f"{name}.lua"))
        script = Script(name, "\n".join(parts), keys)
        _loaded[name], _sources[name] = script, where
        return script


def loaded() -> list[Script]:
    """Every script loaded in this process so far (what ``RedisStore.check`` loads into
    Redis), in the order they were loaded."""
    with _lock:
        return list(_loaded.values())
