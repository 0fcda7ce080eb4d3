"""The bootstrap admin token is created and printed in one step: a start that fails before
the token was shown leaves no token, and the next start shows one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from buttress.catalog import Catalog, catalog_url, tokens
from tests.conftest import start_server


def test_start_that_cannot_print_the_token_leaves_none(tmp_path: Path) -> None:
    """serve whose stdout is a closed pipe fails to print the token: it is not kept, and the
    next start prints a working one."""
    data_dir = tmp_path / "data"
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write to stdout now fails (EPIPE)
    try:
        failed = subprocess.run(
            [sys.executable, "-m", "buttress", "--data-dir", str(data_dir), "serve", "--port", "0"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert failed.returncode != 0
    cat = Catalog(catalog_url(None, data_dir))
    with cat.begin() as session:
        assert tokens.get_all(session=session, include_revoked=True) == []
    cat.dispose()
    again = start_server(data_dir)
    try:
        assert again.admin_token is not None
        who = httpx.get(
            again.url + "api/v1/whoami",
            headers={"Authorization": f"Bearer {again.admin_token}"},
            timeout=30,
        )
        assert who.json()["role"] == "admin"
    finally:
        again.stop()
