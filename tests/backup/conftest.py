"""Keys, destinations and settings for the backup tests (real age keys, real directories)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.keys import generate_identity, load_identities, parse_recipients
from buttress.backup.pipeline import Settings


@dataclass
class Keys:
    path: Path
    recipient: str
    recipients: list[Any]
    identities: list[Any]


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    path = tmp_path / "backup-key.txt"
    recipient = generate_identity(path)
    return Keys(path, recipient, parse_recipients([recipient]), load_identities([path]))


@pytest.fixture
def settings(keys: Keys) -> Settings:
    return Settings(keys.recipients, level=3, threads=0, object_size=256 << 10)


@pytest.fixture
def repo(tmp_path: Path) -> LocalDestination:
    return LocalDestination("local", tmp_path / "repo")


@pytest.fixture
def second_repo(tmp_path: Path) -> LocalDestination:
    return LocalDestination("offsite", tmp_path / "offsite")
