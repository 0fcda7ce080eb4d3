"""`buttress state check`: what the policies will see of the configured store."""

from __future__ import annotations

from pathlib import Path

import pytest

from buttress.cli import main
from tests.state.conftest import ClusterNodes


def _config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "buttress.yaml"
    path.write_text(text)
    return str(path)


def test_check_reports_a_redis_that_answers(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, f"state: {{backend: redis, url: '{redis_url}', prefix: cli}}\n")
    assert main(["-c", path, "state", "check"]) == 0
    out = capsys.readouterr().out
    assert "answers (Redis 7" in out
    assert "prefix:         cli" in out
    assert "scripts loaded: " in out


def test_check_fails_clearly_without_printing_the_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "redis://app:pw-not-shown@127.0.0.1:1/0"
    path = _config(tmp_path, f"state: {{backend: redis, url: '{url}', connect_timeout: 200ms}}\n")
    assert main(["-c", path, "state", "check"]) == 1
    captured = capsys.readouterr()
    assert "pw-not-shown" not in captured.out + captured.err
    assert captured.err.startswith("error: redis redis://app:***@127.0.0.1:1/0: ConnectionError")


def test_check_with_the_memory_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-c", _config(tmp_path, ""), "state", "check"]) == 0
    assert "state: memory" in capsys.readouterr().out


def test_a_bad_state_section_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, "state:\n  backend: redis\n  comand_timeout: 1s\n")
    assert main(["-c", path, "state", "check"]) == 2
    err = capsys.readouterr().err
    assert "buttress.yaml:3:3 state.comand_timeout" in err
    assert "did you mean 'command_timeout'" in err


def test_check_on_a_cluster_node_reports_the_cluster(
    tmp_path: Path, redis_cluster: ClusterNodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plain redis:// URL of a cluster node is detected: the check says it is a cluster."""
    url = redis_cluster.url
    path = _config(tmp_path, f"state: {{backend: redis, url: '{url}', prefix: cli}}\n")
    assert main(["-c", path, "state", "check"]) == 0
    out = capsys.readouterr().out
    assert "cluster:        yes, 3 primaries (cluster_state:ok)" in out
    assert "scripts loaded: " in out


def test_check_refuses_a_cluster_node_when_told_it_is_one_endpoint(
    tmp_path: Path, redis_cluster: ClusterNodes, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `cluster: false`, a cluster node is an error naming the reason, exit 1."""
    url = redis_cluster.url
    path = _config(tmp_path, f"state: {{backend: redis, url: '{url}', cluster: false}}\n")
    assert main(["-c", path, "state", "check"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: redis {url}: ClusterModeError: the server is a Redis Cluster")
    assert len(err.strip().splitlines()) == 1


def test_check_on_a_standalone_redis_says_so(
    tmp_path: Path, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A standalone Redis is reported as one endpoint."""
    path = _config(tmp_path, f"state: {{backend: redis, url: '{redis_url}', prefix: cli}}\n")
    assert main(["-c", path, "state", "check"]) == 0
    assert "cluster:        no (one endpoint)" in capsys.readouterr().out
