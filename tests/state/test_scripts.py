"""The Lua scripts: each in a .lua file of the package that owns it, read once, with the
store's prelude and its fragments in front."""

from __future__ import annotations

from pathlib import Path

import pytest

import buttress
from buttress.state import scripts

SRC = Path(buttress.__file__).parent


def _load_owners() -> None:
    import buttress.degradation.shared_level
    import buttress.resilience._shared_breaker
    import buttress.resilience._shared_budget
    import buttress.resilience._shared_bulkhead
    import buttress.resilience.rate_limit
    import buttress.state.redis_store  # noqa: F401  # the probe


def test_every_lua_file_is_a_loaded_script_or_a_fragment() -> None:
    _load_owners()
    names = {s.name for s in scripts.loaded()}
    files = {p.stem for p in SRC.rglob("*.lua") if not p.stem.startswith("_")} - {"prelude"}
    assert files == names
    assert len(names) == 18  # 6 rate limits, 4 breaker, 4 bulkhead, 2 budget, level, probe


def test_a_script_is_the_prelude_its_fragments_and_its_file() -> None:
    from buttress.resilience._shared_breaker import _BREAKER_PROBE
    from buttress.resilience.rate_limit import TokenBucket

    prelude = (SRC / "state" / "prelude.lua").read_text()
    owed = (SRC / "resilience" / "rate_limit" / "_owed.lua").read_text()
    own = (SRC / "resilience" / "rate_limit" / "token_bucket.lua").read_text()
    assert TokenBucket.lua.text == "\n".join([prelude, owed, own])
    assert _BREAKER_PROBE.text.index("local function move") < _BREAKER_PROBE.text.index(
        "move('half_open'"
    )
    assert len(TokenBucket.lua.sha) == 40


def test_a_script_is_read_once_and_a_name_has_one_owner() -> None:
    from buttress.resilience.rate_limit import GCRA

    again = scripts.load("buttress.resilience.rate_limit", "gcra", include=["owed"])
    assert again is GCRA.lua
    with pytest.raises(ValueError, match=r"'gcra' of buttress\.degradation/gcra\.lua is already"):
        scripts.load("buttress.degradation", "gcra")


def test_a_missing_file_is_named_with_its_package() -> None:
    with pytest.raises(FileNotFoundError, match=r"'nothing\.lua' of package 'buttress\.state'"):
        scripts.load("buttress.state", "nothing")
    assert "nothing" not in {s.name for s in scripts.loaded()}
