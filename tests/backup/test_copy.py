"""`buttress backup copy`: an S3 copy that failed during the run is repaired later, an
interrupted copy resumes without sending again what arrived, an altered object is not copied,
and bad input is named."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from buttress.cli import main
from tests.backup.conftest import add_s3_destination, config_file, recipient, run_json
from tests.backup.s3_proxy import FaultyProxy
from tests.conftest import S3Server


@pytest.fixture
def proxy(s3_server: S3Server) -> Iterator[FaultyProxy]:
    p = FaultyProxy(s3_server.port)
    yield p
    p.close()


def _setup(project: Path, s3_server: S3Server, proxy: FaultyProxy) -> str:
    bucket = s3_server.new_bucket()
    config_file(project, recipient(project))
    add_s3_destination(project, bucket, proxy.endpoint, ", secret_access_key: s, max_attempts: 1")
    text = (project / "buttress.yaml").read_text()
    text = text.replace("path: site}", "path: site, required: 1, object_size_mb: 1}")
    (project / "buttress.yaml").write_text(text)
    with open(project / "site" / "data.bin", "wb") as f:
        f.write(os.urandom(5 << 20))  # five objects of 1 MiB
    return bucket


def test_a_failed_destination_is_repaired_and_an_interrupted_copy_resumes(
    project: Path, capsys: pytest.CaptureFixture[str], s3_server: S3Server, proxy: FaultyProxy
) -> None:
    bucket = _setup(project, s3_server, proxy)
    proxy.writes_before_failure = 0  # the bucket fails during the run
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    assert run["destinations"] == ["local"]
    assert "cloud" in run["failed_destinations"]
    proxy.writes_before_failure = proxy.writes + 3  # then it fails again, mid-copy
    capsys.readouterr()
    assert main(["backup", "copy", run["id"], "cloud"]) == 1
    assert "InternalError" in capsys.readouterr().err
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"site/{run['id']}/")
    arrived = listed["KeyCount"]
    assert 0 < arrived < 6
    assert not any(o["Key"].endswith("manifest.json") for o in listed["Contents"])
    proxy.writes_before_failure = None  # healthy again
    copied = run_json(capsys, ["backup", "copy", run["id"], "cloud", "--json"])
    assert copied["skipped"] == arrived  # what arrived is not sent again
    assert copied["copied"] + copied["skipped"] == 6  # 5 of data + the small last one
    again = run_json(capsys, ["backup", "copy", run["id"], "cloud", "--json"])
    assert (again["copied"], again["skipped"]) == (0, 6)
    shown = run_json(capsys, ["backup", "list", "--json"])[0]
    assert shown["destinations"] == ["cloud", "local"]
    assert shown["failed_destinations"] == {}
    checked = run_json(capsys, ["backup", "verify", run["id"], "--json"])
    assert checked["destinations"] == ["local", "cloud"]
    assert checked["problems"] == []


def test_an_altered_object_is_not_copied(
    project: Path, capsys: pytest.CaptureFixture[str], s3_server: S3Server, proxy: FaultyProxy
) -> None:
    bucket = _setup(project, s3_server, proxy)
    proxy.writes_before_failure = 0
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    proxy.writes_before_failure = None
    victim = sorted((project / "repo" / "site" / run["id"]).glob("tar.*"))[2]
    data = bytearray(victim.read_bytes())
    data[100] ^= 1
    victim.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["backup", "copy", run["id"], "cloud"]) == 1
    err = capsys.readouterr().err
    assert f"{victim.name} in local" in err
    assert "does not match the manifest" in err
    keys = [
        o["Key"]
        for o in s3_server.client()
        .list_objects_v2(Bucket=bucket, Prefix="site/")
        .get("Contents", [])
    ]
    assert f"site/{run['id']}/{victim.name}" not in keys
    assert not any(k.endswith("manifest.json") for k in keys)


def test_bad_copy_input(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_file(project, recipient(project))
    run = run_json(capsys, ["backup", "run", "site", "--json"])
    assert main(["backup", "copy", run["id"], "nas"]) == 2
    assert "unknown destination 'nas'; configured: local" in capsys.readouterr().err
    assert main(["backup", "copy", run["id"], "local"]) == 1
    assert "no other destination holds a readable copy" in capsys.readouterr().err
