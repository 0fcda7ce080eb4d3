"""The repository format end to end on raw streams: split, checksummed, encrypted objects; a
manifest written last; every kind of damage named."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress.backup.destinations import LocalDestination
from buttress.backup.engine import load_manifest, take_backup, verify
from buttress.backup.errors import BackupError, CorruptBackupError
from buttress.backup.keys import generate_identity, load_identities
from buttress.backup.pipeline import Settings, read_artifact
from buttress.backup.sources.base import Source
from tests.backup.conftest import Keys

PAYLOAD = os.urandom(300_000) + bytes(2_000_000) + os.urandom(100_000)


class BytesSource(Source):
    """A source whose one artifact is a given byte string."""

    kind = "bytes"

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self.data = data
        self.fail_after = fail_after

    def describe(self) -> str:
        return "bytes"

    def check(self) -> dict[str, object]:
        return {"server_version": "1"}

    @property
    def artifacts(self) -> list[str]:
        return ["blob"]

    def dump(self, artifact: str) -> Iterator[io.BytesIO]:  # type: ignore[override]
        import contextlib

        @contextlib.contextmanager
        def cm() -> Iterator[io.BytesIO]:
            yield io.BytesIO(self.data)
            if self.fail_after is not None:
                raise BackupError("bytes: the dump tool died")

        return cm()  # type: ignore[return-value]

    def metadata(self) -> dict[str, object]:
        return {"size": len(self.data)}


def _restore(manifest: object, dest: LocalDestination, identities: list[object]) -> bytes:
    out = io.BytesIO()
    read_artifact(manifest, "blob", dest, identities, out)  # type: ignore[arg-type]
    return out.getvalue()


def test_round_trip_through_several_objects_and_two_destinations(
    keys: Keys, settings: Settings, repo: LocalDestination, second_repo: LocalDestination
) -> None:
    result = take_backup(BytesSource(PAYLOAD), "app", [repo, second_repo], settings)
    manifest = result.manifest
    blob = manifest.artifact("blob")
    assert blob.raw_size == len(PAYLOAD)
    assert blob.stored_size < len(PAYLOAD) / 3  # the zeros compress
    assert len(blob.objects) >= 2  # split at object_size (256 KiB here)
    assert result.destinations_ok == ["local", "offsite"]
    for dest in (repo, second_repo):
        again = load_manifest(dest, "app", manifest.backup_id)
        assert again == manifest
        assert verify(again, dest) == []
        assert _restore(again, dest, keys.identities) == PAYLOAD
    assert manifest.encryption["recipients"][0].startswith("sha256:")
    assert keys.recipient not in manifest.to_json().decode()  # fingerprints, not keys


def test_no_partial_names_and_no_manifest_when_the_dump_fails(
    settings: Settings, repo: LocalDestination
) -> None:
    with pytest.raises(BackupError, match="the dump tool died"):
        take_backup(BytesSource(PAYLOAD, fail_after=1), "app", [repo], settings, backup_id="x")
    assert not repo.exists("app/x/manifest.json")
    assert all(".partial-" not in key for key in repo.keys(""))
    with pytest.raises(CorruptBackupError, match="never completed"):
        load_manifest(repo, "app", "x")


def _damage(dest: LocalDestination, key: str, how: str) -> None:
    path = dest.path_of(key)
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 2]
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_a_damaged_object_is_named_by_verify_and_by_restore(
    keys: Keys, settings: Settings, repo: LocalDestination, how: str
) -> None:
    manifest = take_backup(BytesSource(PAYLOAD), "app", [repo], settings).manifest
    victim = manifest.artifact("blob").objects[1].key
    _damage(repo, victim, how)
    problems = verify(manifest, repo)
    assert len(problems) == 1
    assert victim in problems[0]
    assert ("SHA-256 mismatch" if how == "flip" else "size") in problems[0]
    with pytest.raises(CorruptBackupError, match=victim.replace(".", r"\.")):
        _restore(manifest, repo, keys.identities)


def test_a_missing_object_and_a_damaged_manifest(
    settings: Settings, repo: LocalDestination
) -> None:
    manifest = take_backup(BytesSource(PAYLOAD), "app", [repo], settings).manifest
    gone = manifest.artifact("blob").objects[0].key
    repo.delete(gone)
    assert verify(manifest, repo) == [f"{gone} in {repo.describe()}: missing"]
    repo.path_of(f"app/{manifest.backup_id}/manifest.json").write_text("{not json")
    with pytest.raises(CorruptBackupError, match="not a valid backup manifest"):
        load_manifest(repo, "app", manifest.backup_id)


def test_a_wrong_key_cannot_decrypt_and_says_so(
    tmp_path: Path, settings: Settings, repo: LocalDestination
) -> None:
    manifest = take_backup(BytesSource(PAYLOAD), "app", [repo], settings).manifest
    generate_identity(tmp_path / "other.txt")
    with pytest.raises(CorruptBackupError, match="cannot decrypt"):
        _restore(manifest, repo, load_identities([tmp_path / "other.txt"]))


def test_a_full_destination_fails_the_run_unless_enough_others_succeed(
    keys: Keys, repo: LocalDestination, full_disk: Path
) -> None:
    big = os.urandom(3 << 20)  # does not compress: 3 MiB stored, the tmpfs holds 1
    small = LocalDestination("small", full_disk)
    strict = Settings(keys.recipients, threads=0, object_size=256 << 10)
    with pytest.raises(BackupError, match="No space left on device"):
        take_backup(BytesSource(big), "app", [repo, small], strict, backup_id="strict")
    assert not repo.exists("app/strict/manifest.json")  # not good anywhere
    assert all(".partial-" not in key for key in small.keys(""))
    lenient = Settings(keys.recipients, threads=0, object_size=256 << 10, required=1)
    result = take_backup(BytesSource(big), "app", [repo, small], lenient, backup_id="lenient")
    assert result.destinations_ok == ["local"]
    assert "No space left on device" in result.destinations_failed["small"]
    assert not small.exists("app/lenient/manifest.json")
    assert _restore(result.manifest, repo, keys.identities) == big


def test_stock_tools_read_a_backup(keys: Keys, settings: Settings, repo: LocalDestination) -> None:
    """`cat objects | age -d -i key | zstd -d` gives the raw stream back, without buttress."""
    manifest = take_backup(BytesSource(PAYLOAD), "app", [repo], settings).manifest
    folder = repo.root / "app" / manifest.backup_id
    script = f"cat {folder}/blob.* | age -d -i {keys.path} | zstd -d -q"
    out = subprocess.run(["bash", "-o", "pipefail", "-c", script], capture_output=True, check=True)
    assert out.stdout == PAYLOAD
