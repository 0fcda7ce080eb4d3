"""The runbook errors.

::

    ButtressError
    └── RunbookError              a runbook cannot be run as asked (exit code 2: the input)
        ├── ParamError            a parameter is unknown, missing, of the wrong type...
        └── StepError             a step failed (exit code 1); ``status`` is how

An unknown runbook name is a :class:`~buttress.errors.NotFoundError`
(``config.runbooks.get``).
"""

from __future__ import annotations

from buttress.errors import ButtressError

__all__ = ["ParamError", "RunbookError", "StepError"]


class RunbookError(ButtressError):
    """A runbook cannot be run as asked; the message names what and where, and no secret."""

    exit_code = 2


class ParamError(RunbookError):
    """A parameter given to a run is unknown, missing, of the wrong type or not a choice."""

    def __init__(self, param: str, message: str) -> None:
        self.param = param
        super().__init__(f"parameter {param!r}: {message}")


class StepError(RunbookError):
    """A step failed; ``status`` is ``failed`` or ``timed_out``. Raised inside the engine and
    turned into the step's record: callers of :class:`~buttress.runbooks.engine.Engine` see
    a run status, not this."""

    exit_code = 1

    def __init__(self, message: str, *, status: str = "failed", output: str = "") -> None:
        self.status = status
        self.output = output
        super().__init__(message)
