"""Keys, destinations and settings for the backup tests (real age keys, real directories)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from buttress.backup.destinations import Destination, LocalDestination
from buttress.backup.keys import generate_identity, load_identities, parse_recipients
from buttress.backup.pipeline import Settings
from buttress.backup.s3 import S3Destination, S3Settings
from buttress.cli import main
from tests.backup.pg_cluster import pg_clusters
from tests.conftest import S3Server

__all__ = ["pg_clusters"]


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


@pytest.fixture
def s3_dest(s3_server: S3Server) -> Iterator[S3Destination]:
    """A destination on a fresh bucket of the real (moto) S3 server, with a key prefix."""
    dest = S3Destination(
        "s3",
        S3Settings(
            bucket=s3_server.new_bucket(),
            prefix="backups/prod",
            endpoint_url=s3_server.endpoint,
            access_key_id="testing",
            secret_access_key="testing-secret",
            part_size=5 << 20,
            concurrency=2,
            max_attempts=2,
        ),
    )
    yield dest
    dest.close()


@pytest.fixture(params=["local", "s3"])
def destination(request: pytest.FixtureRequest, tmp_path: Path) -> Destination:
    """Each kind of destination, for the suite every one of them must pass."""
    if request.param == "local":
        return LocalDestination("local", tmp_path / "repo")
    dest: Destination = request.getfixturevalue("s3_dest")
    return dest


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Path:
    """A project folder (the working directory) holding a new age key pair."""
    monkeypatch.chdir(tmp_path)
    assert main(["backup", "keygen", "key.txt"]) == 0
    (tmp_path / "pub.txt").write_text(capsys.readouterr().out.strip())
    return tmp_path


def config_file(project: Path, recipient: str, extra: str = "") -> str:
    """buttress.yaml with a local destination, a directory target `site` and an unreachable
    PostgreSQL target `db`; ``extra`` is appended under ``targets:``."""
    site = project / "site"
    site.mkdir(exist_ok=True)
    (site / "index.html").write_text("<h1>hi</h1>\n" * 100)
    (project / "buttress.yaml").write_text(
        "backup:\n"
        f"  recipients: [{recipient}]\n"
        "  identity_files: [key.txt]\n"
        "  destinations:\n"
        "    - {name: local, path: repo}\n"
        "  targets:\n"
        "    - {name: site, source: directory, path: site}\n"
        "    - {name: db, source: postgresql, dsn: 'postgresql://nobody:pw-9@127.0.0.1:1/x'}\n"
        + extra
    )
    return str(project / "buttress.yaml")


def add_s3_destination(project: Path, bucket: str, endpoint: str, extra: str = "") -> None:
    """Add destination `cloud` (the bucket behind ``endpoint``) to the project's config."""
    path = project / "buttress.yaml"
    path.write_text(
        path.read_text().replace(
            "    - {name: local, path: repo}\n",
            "    - {name: local, path: repo}\n"
            f"    - {{name: cloud, type: s3, bucket: {bucket}, endpoint_url: '{endpoint}',"
            f" access_key_id: testing{extra}}}\n",
        )
    )


def recipient(project: Path) -> str:
    return (project / "pub.txt").read_text()


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str], code: int = 0) -> Any:
    """Run the CLI with ``argv`` (which asks for --json), expect ``code``, parse stdout."""
    capsys.readouterr()
    assert main(argv) == code
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs: a destination that runs out of space."""
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)
