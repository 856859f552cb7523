"""Phase events for whoever listens in this process (the CLI prints them) and for the run's log."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger

Listener = Callable[[str, dict], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    _listeners.append(listener)


def forget(listener: Listener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def emit(event: str, **data) -> None:
    """Tell listeners and the run log that ``event`` happened (e.g. 'phase-done', phase=1)."""
    for listener in list(_listeners):
        listener(event, data)
    with contextlib.suppress(MissingContextError):
        get_run_logger().info("%s %s", event, data)
