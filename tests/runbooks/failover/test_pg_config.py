"""The PostgreSQL pair's configuration: repoint hooks told apart by their key, fence checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from buttress.config._failover import FailoverConfig
from buttress.config._failover_pg import (
    RepointCommandConfig,
    RepointDsnFileConfig,
    RepointHttpConfig,
)

NODE = {"dsn": "postgresql://postgres:pw@db1:5432/postgres"}


def _pair(**extra: object) -> dict[str, object]:
    return {"primary": NODE, "replica": {"dsn": "postgresql://postgres@db2/postgres"}, **extra}


@pytest.mark.parametrize(
    ("repoint", "kind"),
    [
        ({"dsn_file": "/etc/app/primary.dsn"}, RepointDsnFileConfig),
        ({"command": ["/usr/local/bin/repoint", "{dsn}"]}, RepointCommandConfig),
        ({"http": {"url": "http://127.0.0.1:9/primary"}}, RepointHttpConfig),
    ],
)
def test_repoint_kind_is_told_by_its_key(repoint: dict[str, object], kind: type) -> None:
    """`dsn_file`, `command` and `http` each give their own repoint model."""
    config = FailoverConfig.model_validate({"postgresql": {"orders": _pair(repoint=repoint)}})
    assert isinstance(config.postgresql["orders"].repoint, kind)


def test_fence_command_needs_its_argv() -> None:
    """`fence: command` without `fence_command` is refused, saying what is missing."""
    with pytest.raises(ValidationError, match="fence: command needs fence_command"):
        FailoverConfig.model_validate({"postgresql": {"orders": _pair(fence="command")}})


def test_fence_stop_needs_a_way_to_stop() -> None:
    """`fence: stop` needs the primary's data_dir or stop_command."""
    with pytest.raises(ValidationError, match="fence: stop needs"):
        FailoverConfig.model_validate({"postgresql": {"orders": _pair(fence="stop")}})


def test_dsn_password_is_masked_on_display() -> None:
    """The pair's JSON form masks the DSN's password."""
    config = FailoverConfig.model_validate({"postgresql": {"orders": _pair()}})
    assert "pw@" not in config.model_dump_json()
