"""Checks of a run's parameters that need no Prefect and no heavy import, so the CLI runs them first.

``check_inputs`` refuses a bad brief, ``--rows``, ``--variant``, ``--seed`` or ``--out`` and a run
too big for the limits (``tasks.size_estimate``) with the option's name and the fix; the CLI calls
it before Prefect starts its server, the flow again for API and deployment runs.
"""

from __future__ import annotations

from pathlib import Path

from schemas.errors import InputError
from tasks.settings import Settings
from tasks.size_estimate import check_rows_requested


def check_inputs(
    brief: str, rows: int, variant: int, seed: int | None = None, settings: Settings | None = None
) -> None:
    """Refuse bad parameters before any work, with the option and the fix in the message.

    The CLI calls it before Prefect starts; the flow calls it again for API and deployment runs.
    With ``settings``, the output folder must be a writable folder and ``rows`` within the size
    limits (``tasks.size_estimate``).
    """
    if not brief or not brief.strip():
        raise InputError("the brief is empty; describe the business and its problem in a sentence or two")
    if rows <= 0:
        raise InputError(f"--rows: rows must be a positive number, got {rows}")
    if variant < 0:
        raise InputError(f"--variant: variant must be 0 or more, got {variant}")
    if seed is not None and seed < 0:
        raise InputError(f"--seed: seed must be 0 or more, got {seed}; any non-negative whole number works")
    if settings is not None:
        check_output_dir(settings.output_dir)
        check_rows_requested(rows, settings.max_rows, settings.max_bytes, settings.output_dir)


def check_output_dir(folder: Path) -> None:
    """Refuse an output folder that is a file or cannot be written, by trying (root ignores modes)."""
    import tempfile

    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out: {folder} is a file, not a folder; give a folder for the work files and packages")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise InputError(
            f"--out: cannot write in {folder} ({exc.strerror or exc}); choose a folder you can write to"
        ) from None
