"""The work folder of a run's phases 4-5: one per spec, held by one live run at a time.

The folder is keyed by the spec (not the run) so that starting a crashed run again reuses its
finished chunks. Two live runs of the same spec (a batch listing one challenge twice, or a run
started again while the first still works) must not write into one folder: the first holds an
exclusive ``flock`` on ``.lock`` for as long as it works; a second gets a folder of its own
(``<folder>-<run name>``). The lock goes with the process, so a crashed run never leaves it held.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock; runs of one spec there must not overlap
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".lock"


@contextmanager
def claim_work_dir(folder: Path, run_name: str) -> Iterator[Path]:
    """``folder``, held for this run until the block ends; or ``<folder>-<run_name>`` when another run holds it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handle = (folder / LOCK_NAME).open("a")
    if fcntl is None:
        claimed = True
    else:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            claimed = True
        except BlockingIOError:
            claimed = False
    if not claimed:
        handle.close()
        own = folder.with_name(f"{folder.name}-{run_name}")
        with claim_work_dir(own, run_name) as claimed_own:
            yield claimed_own
        return
    try:
        yield folder
    finally:
        handle.close()  # closing the only descriptor releases the lock
