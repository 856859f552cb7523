"""One exception family for Data Factory.

Every error carries a location (``tables.orders.columns.total``) and a remedy, so a person
can fix the spec or the command without reading a traceback.
"""

from __future__ import annotations


class DataFactoryError(Exception):
    """Base of every error this project raises on purpose.

    Args:
        message: what is wrong and how to fix it.
        path: where, e.g. ``tables.orders.columns.customer_id``; empty when global.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(DataFactoryError):
    """The challenge spec is invalid. ``problems`` lists every problem found, not only the first."""

    def __init__(self, message: str, path: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message, path)
        self.problems = problems or [str(self)]


class ExpressionError(SpecError):
    """An expression is outside the allowed grammar or names something unknown."""


class GenerationError(DataFactoryError):
    """The engine cannot build the data the spec asks for (too small a domain, impossible bounds)."""


class InputError(DataFactoryError):
    """A command or flow parameter is invalid (empty brief, rows <= 0, unknown domain)."""


class GateRejected(DataFactoryError):
    """A person rejected the challenge at a gate."""


class ChecksFailed(DataFactoryError):
    """Automatic approval refused: the phase's checks did not pass."""


def with_path(error: DataFactoryError, path: str) -> DataFactoryError:
    """Prefix ``path`` onto an error raised deep in the engine instead of re-wording it there."""
    error.path = f"{path}.{error.path}" if error.path else path
    return error
