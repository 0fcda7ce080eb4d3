"""``buttress incident postmortem``, ``action-item`` and ``action-items`` on the catalog
directly: the walk to a closed P1, files in and out, and the errors of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buttress.cli import main


class Cli:
    """Runs ``buttress --data-dir D incident ...`` and returns (exit code, stdout, stderr)."""

    def __init__(self, data: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data = data
        self.capsys = capsys

    def __call__(self, *args: str, code: int = 0) -> tuple[str, str]:
        self.capsys.readouterr()
        got = main(["--data-dir", str(self.data), "incident", *args])
        out, err = self.capsys.readouterr()
        assert got == code, (args, out, err)
        assert "Traceback" not in err
        return out, err


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path / "data", capsys)


def resolved_p1(cli: Cli) -> str:
    ref = cli("declare", "db down", "--severity", "P1", "--impact", "checkout failed")[0].strip()
    cli("resolve", ref)
    return ref


def test_postmortem_prints_the_draft_then_edit_and_publish_let_it_close(
    cli: Cli, tmp_path: Path
) -> None:
    """No option: drafts and prints the Markdown (the same on a second run); close is
    refused until --edit FILE --publish; --output writes the body."""
    ref = resolved_p1(cli)
    cli("close", ref, code=2)
    first, _ = cli("postmortem", ref)
    assert first.startswith(f"# Post-mortem: {ref} — db down\n")
    assert "| Customer impact | checkout failed |" in first
    assert cli("postmortem", ref)[0] == first
    _, err = cli("close", ref, code=2)
    assert "still a draft" in err
    mine = tmp_path / "mine.md"
    mine.write_text("# Post-mortem\n\nIt was DNS.\n", encoding="utf-8")
    out, _ = cli("postmortem", ref, "--edit", str(mine), "--publish")
    assert out.strip() == f"{ref} post-mortem edited, published"
    assert cli("close", ref)[0].strip() == f"{ref} closed"
    copy = tmp_path / "out.md"
    out, _ = cli("postmortem", ref, "--output", str(copy))
    assert out.strip() == f"{ref} post-mortem (published) written to {copy}"
    assert copy.read_text(encoding="utf-8") == "# Post-mortem\n\nIt was DNS.\n"


def test_regenerate_redrafts_a_draft_and_is_refused_once_published(cli: Cli) -> None:
    """--regenerate redrafts (now listing the action item); once published it exits 2."""
    ref = resolved_p1(cli)
    cli("postmortem", ref)
    cli("action-item", "add", ref, "add a replica", "--owner", "ann", "--due", "2026-12-18")
    redrafted, _ = cli("postmortem", ref, "--regenerate")
    assert "| add a replica | ann | 2026-12-18 | open |" in redrafted
    cli("postmortem", ref, "--publish")
    _, err = cli("postmortem", ref, "--regenerate", code=2)
    assert "published" in err


def test_action_items_are_added_done_and_listed(cli: Cli) -> None:
    """add prints the item's number; done marks it; --overdue lists only open items due in
    the past; --json has every field."""
    ref = resolved_p1(cli)
    out, _ = cli("action-item", "add", ref, "old", "--owner", "ann", "--due", "2000-01-02")
    late = out.split()[2]
    assert out.strip() == f"action item {late} added to {ref}"
    cli("action-item", "add", ref, "new", "--owner", "bo", "--due", "2999-01-01")
    cli("action-item", "add", ref, "whenever", "--owner", "bo")
    overdue = json.loads(cli("action-items", "--overdue", "--json")[0])
    assert [(i["title"], i["incident"], i["overdue"]) for i in overdue] == [("old", ref, True)]
    assert "old" in cli("action-items", "--overdue")[0]
    assert cli("action-item", "done", late)[0].strip() == f"action item {late} done"
    assert json.loads(cli("action-items", "--overdue", "--json")[0]) == []
    every = json.loads(cli("action-items", "--incident", ref, "--json")[0])
    assert [(i["title"], i["status"]) for i in every] == [
        ("old", "done"),
        ("new", "open"),
        ("whenever", "open"),
    ]


def test_bad_input_exits_2_naming_what(cli: Cli, tmp_path: Path) -> None:
    """An unknown incident or item, a bad date or status, an unreadable file and two
    options that both replace the body each exit 2 with one clear line."""
    ref = resolved_p1(cli)
    cases: list[tuple[tuple[str, ...], str]] = [
        (("postmortem", "INC-2026-9999"), "INC-2026-9999"),
        (("action-item", "add", "INC-2026-9999", "x", "--owner", "a"), "INC-2026-9999"),
        (("action-item", "add", ref, "x", "--owner", "a", "--due", "18/12/2026"), "18/12/2026"),
        (("action-item", "done", "424242"), "action item '424242' not found"),
        (("action-items", "--status", "late"), "'late'"),
        (("postmortem", ref, "--edit", str(tmp_path / "none.md")), "cannot read"),
        (("postmortem", ref, "--regenerate", "--edit", str(tmp_path)), "give one of them"),
    ]
    for args, says in cases:
        _, err = cli(*args, code=2)
        assert says in err, args
        assert err.count("error:") == 1, args
