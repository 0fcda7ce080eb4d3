"""Shared by the CLI tests: a buttress.yaml with runbooks in a temporary directory, and
``buttress runbook ...`` run as a real process on it (its own SQLite catalog)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from buttress.catalog import Catalog, catalog_url
from buttress.config import load
from buttress.runbooks.runs import Runbooks, engine_factory

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
runbooks:
  definitions:
    - name: nap
      description: echo, sleep a while, done
      params:
        seconds: {type: int, default: 0}
      steps:
        - name: first
          command: {argv: [echo, hello]}
        - name: sleep
          command: {argv: [sleep, '{{ params.seconds }}']}
        - name: last
          command: {argv: ['true']}
    - name: solo
      exclusive: true
      steps:
        - name: gate
          confirm: {prompt: 'Go on?'}
    - name: broken
      steps:
        - name: boom
          command: {argv: ['false']}
    - name: ask
      steps:
        - name: gate
          confirm: {prompt: 'Fail over now?'}
        - name: after
          command: {argv: ['true']}
"""


@dataclass
class Site:
    """A directory with buttress.yaml and a data directory."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "buttress.yaml"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "buttress",
            "--config",
            str(self.config),
            "--data-dir",
            str(self.data),
            "runbook",
            *args,
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``buttress runbook <args>``, stdin not a terminal, to its end."""
        return subprocess.run(
            self.argv(*args),
            capture_output=True,
            text=True,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str) -> subprocess.Popen[str]:
        """``buttress runbook <args>`` in the background."""
        return subprocess.Popen(
            self.argv(*args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env(),
        )

    def service(self, catalog: Catalog) -> Runbooks:
        config = load(self.config, env={})
        return Runbooks(config, catalog, engine_factory(config, catalog))

    def catalog(self) -> Catalog:
        return Catalog(catalog_url(None, self.data))


def site(tmp_path: Path, text: str = CONFIG) -> Site:
    """A site in ``tmp_path`` with ``text`` as its buttress.yaml and a migrated catalog."""
    made = Site(tmp_path)
    made.config.write_text(text)
    made.data.mkdir()
    catalog = made.catalog()
    catalog.upgrade()
    catalog.dispose()
    return made
