"""Great Expectations 1.x as the contract: one expectation suite per category, run in an ephemeral context.

The checks' metrics (computed in DuckDB, see ``tasks.quality.measure``) form one wide metrics frame,
one column per check; each category's suite holds one expectation per check on its column
(``expect_column_values_to_be_between`` for counts, rates and moments, ``..._to_be_in_set`` for
types). GX decides pass or fail and, when asked, builds the data docs (HTML) into a folder.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import struct
import threading
import traceback
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd

from tasks.quality.checks import Check, Measured

CATEGORY_ORDER = (
    "schema_conformity",
    "completeness",
    "uniqueness",
    "validity",
    "referential_integrity",
    "consistency",
    "distribution",
    "coverage",
)
SITE = "instructor"


_IMPORT_LOCK = threading.Lock()


def _import_gx() -> None:
    with _IMPORT_LOCK:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations  # noqa: F401 - warms the import for validate_with_gx


def preload_gx() -> threading.Thread:
    """Import GX in a background thread (seconds of Python) while DuckDB computes the metrics.

    DuckDB releases the GIL while it scans, so the two overlap even on a busy machine; the import is
    finished (joined) before the suites are built.
    """
    thread = threading.Thread(target=_import_gx, name="gx-import", daemon=True)
    thread.start()
    return thread


def _expectation(check: Check):
    import great_expectations.expectations as gxe

    meta = {
        "table": check.table,
        "column": check.column,
        "rule": check.rule,
        "stands_for": check.expectation,
        "description": check.description,
    }
    if check.value_set is not None:
        return gxe.ExpectColumnValuesToBeInSet(column=check.id, value_set=list(check.value_set), meta=meta)
    return gxe.ExpectColumnValuesToBeBetween(
        column=check.id, min_value=check.min_value, max_value=check.max_value, meta=meta
    )


def metrics_frame(checks: list[Check], measured: dict[str, Measured]) -> pd.DataFrame:
    """One row, one column per check: its observed metric (text for types, numbers otherwise)."""
    row: dict[str, Any] = {}
    for check in checks:
        value = measured[check.id].observed
        row[check.id] = str(value) if check.value_set is not None else (None if value is None else float(value))
    return pd.DataFrame([row])


def validate_with_gx(
    checks: list[Check],
    measured: dict[str, Measured],
    data_docs_dir: Path | None = None,
    *,
    forked: bool = False,
) -> dict[str, bool]:
    """Run the 8 category suites on the metrics frame; check id -> success.

    Args:
        checks: every check (the suites are built from them).
        measured: check id -> metric.
        data_docs_dir: when given, GX data docs (HTML) are built into this folder (a staging
            folder renamed into place, so a reader never sees half of them).
        forked: run GX in a forked process. This thread only waits for the verdicts (the GIL is
            free for the process's other threads, on the other CPU); the docs are then rendered
            there in the background, and ``wait_for_data_docs(data_docs_dir)`` waits for them.

    Raises:
        RuntimeError: the forked GX process failed; the message carries its traceback.
    """
    if data_docs_dir is not None:
        _prepare_docs_folder(data_docs_dir)
    if forked and hasattr(os, "fork"):
        success = _run_forked(checks, measured, data_docs_dir)
        if success is not None:
            return success
        if data_docs_dir is not None:
            _prepare_docs_folder(data_docs_dir)  # the silent process may have left half of its docs
    with _GX_LOCK:
        context, success = _run_suites(checks, measured, data_docs_dir)
        if data_docs_dir is not None:
            _render_docs(context, data_docs_dir)
    return success


def _run_suites(checks: list[Check], measured: dict[str, Measured], docs: Path | None) -> tuple[Any, dict[str, bool]]:
    """The GX context (its stores hold the results, for the docs) and check id -> success."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    if docs is not None:
        context.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(_staging(docs))},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    frame = metrics_frame(checks, measured)
    source = context.data_sources.add_pandas("quality_metrics")
    batch = source.add_dataframe_asset("metrics").add_batch_definition_whole_dataframe("all")
    definitions = []
    for category in CATEGORY_ORDER:
        mine = [c for c in checks if c.category == category]
        if not mine:
            continue
        # built whole: adding expectations one by one re-serialises the suite each time (seconds for 200)
        suite = context.suites.add(gx.ExpectationSuite(name=category, expectations=[_expectation(c) for c in mine]))
        definitions.append(
            context.validation_definitions.add(gx.ValidationDefinition(name=category, data=batch, suite=suite))
        )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="quality",
            validation_definitions=definitions,
            actions=[],  # the docs are rendered from the stored results afterwards (``_render_docs``)
            # the report takes examples from DuckDB; GX's own result detail only matters for the data docs
            result_format={"result_format": "BASIC" if docs is not None else "BOOLEAN_ONLY"},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    success: dict[str, bool] = {}
    for run in result.run_results.values():
        for item in run.results:  # grouped by column, not in suite order: keyed by the check id
            success[item.expectation_config.kwargs["column"]] = bool(item.success)
    return context, success


# --------------------------------------------------------------------------- GX in a forked process

# folder -> pid of the forked process still rendering its docs (in this process's lifetime)
_PENDING_DOCS: dict[str, int] = {}
_PENDING_LOCK = threading.Lock()
# held while GX runs in this process and while forking: no thread is inside GX at a fork (a lock GX
# held then would stay held in the child; batches run several challenges in threads of one process)
_GX_LOCK = threading.Lock()
_LENGTH = struct.Struct("!Q")
VERDICT_TIMEOUT_SECONDS = 600.0  # the checkpoint takes seconds whatever the row count; past this, run it here


def _run_forked(checks: list[Check], measured: dict[str, Measured], docs: Path | None) -> dict[str, bool] | None:
    """The verdicts from a forked GX process; None when it went silent (it is killed; the caller runs GX itself)."""
    read_end, write_end = os.pipe()
    with _GX_LOCK:
        pid = os.fork()
    if pid == 0:  # the child: only this thread exists in it; it never returns into the caller
        os.close(read_end)
        _child(checks, measured, docs, write_end)
    os.close(write_end)
    # a length prefix, not end-of-file: a process forked meanwhile by another thread holds a copy of the pipe
    try:
        header = _read_exactly(read_end, _LENGTH.size)
        complete = len(header) == _LENGTH.size
        payload = json.loads(_read_exactly(read_end, _LENGTH.unpack(header)[0])) if complete else {}
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        logging.getLogger(__name__).warning(
            "Great Expectations sent no verdict in %.0f s from its forked process; running it in this one",
            VERDICT_TIMEOUT_SECONDS,
        )
        return None
    finally:
        os.close(read_end)
    if "success" in payload and docs is not None:
        with _PENDING_LOCK:
            _PENDING_DOCS[str(docs)] = pid
    else:
        _, status = os.waitpid(pid, 0)
        if "success" not in payload and not payload.get("error"):
            # ended by a signal before it could answer (a fork of a threaded process can inherit a held lock
            # or crash in C; seen once as exit status -11): the verdicts are still owed, so GX runs here
            logging.getLogger(__name__).warning(
                "Great Expectations' forked process ended with exit status %s before its verdict; running it "
                "in this one",
                os.waitstatus_to_exitcode(status),
            )
            return None
        if "success" not in payload:
            raise RuntimeError(f"Great Expectations failed in its forked process:\n{payload['error']}")
    return payload["success"]


def _read_exactly(fd: int, size: int) -> bytes:
    """``size`` bytes from ``fd``; fewer when the writer ended first.

    Raises:
        TimeoutError: nothing arrived for ``VERDICT_TIMEOUT_SECONDS``.
    """
    data = b""
    while len(data) < size:
        ready, _, _ = select.select([fd], [], [], VERDICT_TIMEOUT_SECONDS)
        if not ready:
            raise TimeoutError(f"no data on the pipe for {VERDICT_TIMEOUT_SECONDS} s")
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _child(checks: list[Check], measured: dict[str, Measured], docs: Path | None, write_end: int) -> NoReturn:
    """Send the verdicts (or the error), then render the docs; report a docs failure in the error file."""
    code = 1
    try:
        try:
            context, success = _run_suites(checks, measured, docs)
            payload: dict[str, Any] = {"success": success}
        except BaseException:  # noqa: BLE001 - handed to the parent, which raises it
            payload = {"error": traceback.format_exc()}
        data = json.dumps(payload).encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(_LENGTH.pack(len(data)) + data)
        if "success" in payload:
            if docs is not None:
                _render_docs(context, docs)
            code = 0
    except BaseException:  # noqa: BLE001 - read by wait_for_data_docs
        if docs is not None:
            _error_file(docs).write_text(traceback.format_exc())
    finally:
        os._exit(code)


# --------------------------------------------------------------------------- data docs


def _staging(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.building")


def _error_file(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.error")


def _prepare_docs_folder(folder: Path) -> None:
    wait_for_data_docs(folder)  # an earlier build into the same folder finishes first
    shutil.rmtree(_staging(folder), ignore_errors=True)
    _error_file(folder).unlink(missing_ok=True)
    _staging(folder).mkdir(parents=True)


def _render_docs(context, folder: Path) -> None:
    """Render the docs of the context's stored results into the staging folder, then rename it to ``folder``.

    Seconds of pure Python (Jinja templates): the forked GX process does it after sending its verdicts.
    """
    context.build_data_docs(site_names=[SITE])
    if not (_staging(folder) / "index.html").exists():
        raise RuntimeError(f"Great Expectations wrote no index.html into {_staging(folder)}")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(_staging(folder), folder)


def wait_for_data_docs(folder: Path) -> Path | None:
    """Wait for the docs a forked GX process of this process renders into ``folder``; the folder when it holds docs.

    Raises:
        RuntimeError: rendering the docs failed; the message carries its traceback.
    """
    folder = Path(folder)
    with _PENDING_LOCK:
        pid = _PENDING_DOCS.pop(str(folder), None)
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            error = _error_file(folder)
            detail = error.read_text() if error.exists() else f"exit status {os.waitstatus_to_exitcode(status)}"
            raise RuntimeError(f"rendering the GX data docs into {folder} failed:\n{detail}")
    return folder if (folder / "index.html").exists() else None
