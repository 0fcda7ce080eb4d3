"""The service markers come from the fixtures and parameters a test uses (tests/conftest.py),
and scripts/check.sh --fast selects the fast lane the conftest defines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FAST_LANE, SERVICE_FREE
from tests.conftest import SERVICE_MARKERS as SERVICES

ROOT = Path(__file__).resolve().parents[1]
NODES = [
    "tests/catalog/test_tokens.py::test_token_is_stored_only_as_hash",  # catalog: both backends
    "tests/state/test_rate_limit_redis.py::test_shared_state_needs_a_name",  # store: two Redis
    "tests/backup/test_destinations.py",  # destination: local and s3
    "tests/config/test_interpolate.py",  # no service
]


SHOW_MARKERS = """
import pytest

@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    for item in items:
        print("MARKED", item.nodeid, ",".join(sorted({m.name for m in item.iter_markers()})))
"""


def _markers(tmp_path: Path) -> dict[str, set[str]]:
    """Each test of NODES and the markers it has after collection (one pytest --co)."""
    (tmp_path / "show_markers.py").write_text(SHOW_MARKERS)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
            "-p",
            "show_markers",
            "--co",
            *NODES,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found: dict[str, set[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("MARKED "):
            _, node, names = [*line.split(" ", 2), ""][:3]
            found[node] = set(filter(None, names.split(",")))
    return found


def _selects(expression: str, markers: set[str]) -> bool:
    return bool(eval(expression, {}, {m: m in markers for m in (*SERVICES, "slow")}))  # noqa: S307  # our own expression


def test_check_sh_runs_the_fast_lane_of_the_conftest() -> None:
    """scripts/check.sh --fast selects exactly FAST_LANE (written apart, one copy in bash)."""
    assert f'FAST_LANE="{FAST_LANE}"' in (ROOT / "scripts" / "check.sh").read_text()


def test_each_parameter_is_marked_with_the_service_it_reaches(tmp_path: Path) -> None:
    """The PostgreSQL catalog, both Redis stores and the S3 destination are marked; the SQLite
    catalog, the local destination and a test of no service are in the service-free lane."""
    marked = _markers(tmp_path)
    assert marked[f"{NODES[0]}[postgresql]"] >= {"postgres"}
    assert "postgres" not in marked[f"{NODES[0]}[sqlite]"]
    assert marked[f"{NODES[1]}[standalone]"] >= {"redis"}
    assert marked[f"{NODES[1]}[cluster]"] >= {"redis"}
    s3 = {n for n in marked if n.startswith(NODES[2]) and "s3" in n.partition("[")[2]}
    local = {n for n in marked if n.startswith(NODES[2]) and "local" in n.partition("[")[2]}
    assert s3
    assert all("s3" in marked[n] for n in s3), s3
    assert local
    assert not any(marked[n] & set(SERVICES) for n in local)
    free = {n for n, m in marked.items() if _selects(SERVICE_FREE, m)}
    assert f"{NODES[0]}[sqlite]" in free
    assert any(n.startswith(NODES[3]) for n in free)
    assert not free & ({f"{NODES[0]}[postgresql]"} | s3)


def test_the_readme_documents_both_selections() -> None:
    """The README's development section gives the fast lane and the service-free expression."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f'-m "{FAST_LANE}"' in readme
    assert f'-m "{SERVICE_FREE}"' in readme
