"""Version, help, usage errors and exit codes."""

from __future__ import annotations

import subprocess
import sys

from buttress import __version__
from tests.cli.conftest import Run


def test_version(cli: Run) -> None:
    """--version prints the version and exits 0."""
    result = cli("--version", data_dir=False)
    assert (result.code, result.out.strip()) == (0, f"buttress {__version__}")


def test_unknown_command_is_usage_error(cli: Run) -> None:
    """An unknown command exits 2 with one plain error line."""
    result = cli("nope")
    assert result.code == 2
    assert "Error: No such command 'nope'." in result.err.splitlines()


def test_bad_option_value_is_usage_error(cli: Run) -> None:
    """A bad option value exits 2 naming the option."""
    result = cli("serve", "--port", "99999")
    assert result.code == 2
    assert "Invalid value for '--port'" in result.err


def test_console_script_exit_code() -> None:
    """The installed entry point exits with the code main() returns."""
    result = subprocess.run(
        [sys.executable, "-m", "buttress", "config", "check", "/nonexistent.yaml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 2  # the summary line and the one problem
    assert "Traceback" not in result.stderr


def test_help_lists_every_command(cli: Run) -> None:
    """--help names every command group."""
    result = cli("--help", data_dir=False)
    for word in ("serve", "config", "db", "token"):
        assert word in result.out


def test_entry_point_keeps_the_collector_of_an_embedding_process() -> None:
    """Importing the CLI from code leaves garbage collection as it was; the console script
    turns it off only while importing, and on again for the command itself."""
    probe = (
        "import gc, sys\n"
        "import buttress.cli\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
        "import buttress.cli.backup\n"
        "def main(args=None):\n"
        "    print(gc.isenabled(), gc.get_freeze_count() > 10000, "
        "'buttress.backup.service' in sys.modules)\n"
        "    return 3\n"
        "buttress.cli.main = main\n"
        "sys.argv = ['buttress', '-c', 'x.yaml', 'backup', 'list']\n"
        "from buttress._entry import run\n"
        "run()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.split() == ["True", "True", "True"]


def test_the_command_is_found_after_global_options() -> None:
    from buttress._entry import _command

    assert _command(["-c", "backup.yaml", "--debug", "backup", "run", "db"]) == ("backup", "run")
    assert _command(["--data-dir", "backup", "token", "list"]) == ("token", "list")
    assert _command(["backup", "run", "--help"]) == ("", "")
    assert _command(["--config", "a.yaml"]) == ("", "")
    assert _command(["serve"]) == ("serve", "")
    assert _command([]) == ("", "")
