"""schemathesis hooks for tests/server/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Every restore the fuzzer sends is pointed into the run's own temporary directory (the
``BUTTRESS_FUZZ_ROOT`` environment variable), so that no generated ``to`` path, relative or
absolute, can make the server write anywhere else.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import schemathesis

_numbers = itertools.count()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Send restores only into a fresh directory under the fuzz root, never a database."""
    if case.operation.path.endswith("/restore") and isinstance(case.body, dict):
        root = Path(os.environ["BUTTRESS_FUZZ_ROOT"])
        case.body["to"] = str(root / "restores" / str(next(_numbers)))
        case.body.pop("database", None)
