"""The configuration as displayed (`config show`) hides the secrets of runbook steps."""

from __future__ import annotations

import json
from pathlib import Path

from tests.runbooks.helpers import config, runbook_yaml


def test_dsn_url_header_and_env_secrets_are_masked_on_display(tmp_path: Path) -> None:
    """A DSN's and a URL's passwords, an Authorization header and a secret env are ***."""
    steps = """\
    - name: q
      sql: {dsn: "postgresql://app:dbpass-1@db/app", statement: "SELECT 1"}
    - name: h
      http: {url: "https://u:urlpass-2@api.example/x", headers: {Authorization: "Bearer tk-3"}}
    - name: c
      command: {argv: [env], env: {DB_PASSWORD: envpass-4, MODE: fast}}
    """
    shown = json.dumps(config(tmp_path, runbook_yaml(steps)).model_dump(mode="json"))
    for secret in ("dbpass-1", "urlpass-2", "tk-3", "envpass-4"):
        assert secret not in shown
    assert '"MODE": "fast"' in shown
