"""The dashboard's scripts are classic scripts sharing one global scope: a top-level name
declared in two of them is one name, the later file's, and breaks the earlier page (a
runbooks `confirmBox` once replaced the incidents one). Every top-level function, const and
let is declared once across them."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "buttress" / "server" / "static"
TOP_LEVEL = re.compile(r"^(?:async\s+)?function\s+(\w+)|^(?:const|let|var|class)\s+(\w+)", re.M)


def test_no_top_level_name_is_declared_in_two_scripts() -> None:
    """Each top-level name belongs to one script."""
    where: dict[str, list[str]] = defaultdict(list)
    scripts = sorted(STATIC.glob("*.js"))
    assert len(scripts) >= 3
    for script in scripts:
        for match in TOP_LEVEL.finditer(script.read_text()):
            where[match.group(1) or match.group(2)].append(script.name)
    twice = {name: files for name, files in where.items() if len(files) > 1}
    assert twice == {}
