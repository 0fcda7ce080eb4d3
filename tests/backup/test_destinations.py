"""The contract every destination meets (a local directory, an S3 bucket): objects appear only
when whole, read back byte for byte, are listed, and are removed."""

from __future__ import annotations

import os

import pytest

from buttress.backup.destinations import Destination
from buttress.backup.errors import BackupError

BIG = os.urandom(11 << 20)  # more than two S3 parts of 5 MiB


def test_an_object_round_trips_and_is_listed(destination: Destination) -> None:
    """What is written comes back byte for byte, and keys are listed under their prefix."""
    writer = destination.writer("app/1/dump.000000")
    for i in range(0, len(BIG), 1 << 20):
        writer.write(BIG[i : i + (1 << 20)])
    writer.commit()
    destination.put("app/1/manifest.json", b"{}")
    destination.put("other/2/manifest.json", b"{}")
    assert destination.get("app/1/dump.000000") == BIG
    with destination.reader("app/1/dump.000000") as f:
        assert f.read(10) == BIG[:10]
    assert destination.keys("app/") == ["app/1/dump.000000", "app/1/manifest.json"]
    assert len(destination.keys("")) == 3
    assert destination.exists("app/1/manifest.json")
    destination.delete("app/1/manifest.json")
    assert not destination.exists("app/1/manifest.json")
    assert destination.keys("app/") == ["app/1/dump.000000"]


def test_an_aborted_object_never_appears(destination: Destination) -> None:
    """A write that is aborted (a failed run) leaves nothing under the object's name."""
    writer = destination.writer("app/1/dump.000000")
    writer.write(BIG)
    writer.abort()
    assert not destination.exists("app/1/dump.000000")
    assert destination.keys("") == []


def test_an_empty_object(destination: Destination) -> None:
    """An empty object is still an object."""
    writer = destination.writer("app/1/empty.000000")
    writer.commit()
    assert destination.get("app/1/empty.000000") == b""


def test_a_missing_object_is_a_clear_error(destination: Destination) -> None:
    """Reading what is not there names the key."""
    with pytest.raises(BackupError, match=r"cannot read app/9/x\.000000"):
        destination.reader("app/9/x.000000")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a/../../b"])
def test_keys_cannot_escape(destination: Destination, key: str) -> None:
    """A key that would leave the repository is refused."""
    with pytest.raises(BackupError, match="invalid object key"):
        destination.put(key, b"x")


def test_many_objects_are_deleted_together(destination: Destination) -> None:
    """delete_many removes every key given (more than one S3 request's 1,000), leaves the
    others, and takes keys that are not there."""
    keys = [f"app/1/obj.{i:06d}" for i in range(1203)]
    for key in keys:
        destination.put(key, b"x")
    destination.put("app/2/keep", b"y")
    destination.delete_many([*keys[:1200], "app/1/never-written"])
    assert destination.keys("app/") == [*keys[1200:], "app/2/keep"]
    destination.delete_many([])
    assert len(destination.keys("")) == 4
