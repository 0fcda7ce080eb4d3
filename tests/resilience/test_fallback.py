"""Fallback chains."""

from __future__ import annotations

import pytest

from buttress.resilience import Fallback, events


def broken(user: str) -> str:
    raise ConnectionError(user)


def test_chain_primary_cached_default() -> None:
    """primary -> cached -> default: the first handler that works answers, with the args."""
    cache = {"ann": "cached-ann"}
    policy = Fallback(lambda user: cache[user], Fallback.value("default"))
    assert policy.call(broken, "ann") == "cached-ann"
    assert policy.call(broken, "bob") == "default"  # KeyError in the cache: next handler
    assert policy.call(lambda user: f"live-{user}", "cy") == "live-cy"


def test_untriggered_exceptions_propagate() -> None:
    """Exceptions outside `on` are not handled."""

    def lookup() -> None:
        raise KeyError("x")

    policy = Fallback(Fallback.value(0), on=ConnectionError)
    with pytest.raises(KeyError):
        policy.call(lookup)


def test_result_trigger_and_event() -> None:
    """A result predicate triggers the fallback; the event names the handler used."""
    seen: list[events.Event] = []
    policy = Fallback(Fallback.value([0]), on_result=lambda r: r == [], listeners=(seen.append,))
    assert policy.call(list) == [0]
    used = seen[0]
    assert isinstance(used, events.FallbackUsed)
    assert used.index == 0


def test_last_error_propagates_when_all_fail() -> None:
    """If every handler fails, the last error propagates with the others chained."""

    def also_broken(user: str) -> str:
        raise LookupError("cache down")

    with pytest.raises(LookupError) as info:
        Fallback(also_broken).call(broken, "ann")
    assert isinstance(info.value.__context__, ConnectionError)


@pytest.mark.anyio
async def test_async_handlers() -> None:
    """acall awaits async handlers and accepts sync ones."""

    async def primary() -> str:
        raise ConnectionError

    async def cached() -> str:
        raise KeyError

    policy = Fallback(cached, lambda: "sync-default")
    assert await policy.acall(primary) == "sync-default"


def test_bad_input() -> None:
    """No handler, or a non-callable one, is refused with a hint."""
    with pytest.raises(ValueError, match="at least one handler"):
        Fallback()
    with pytest.raises(TypeError, match=r"Fallback.value\(\)"):
        Fallback(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="needs a call"), Fallback(Fallback.value(1)):
        pass
