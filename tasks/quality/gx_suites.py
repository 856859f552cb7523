"""Great Expectations 1.x as the contract: one expectation suite per category, run in an ephemeral context.

The checks' metrics (computed in DuckDB, see ``tasks.quality.measure``) form one wide metrics frame,
one column per check; each category's suite holds one expectation per check on its column
(``expect_column_values_to_be_between`` for counts, rates and moments, ``..._to_be_in_set`` for
types). GX decides pass or fail and, when asked, builds the data docs (HTML) into a folder.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

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
    docs_in_background: bool = False,
) -> dict[str, bool]:
    """Run the 8 category suites on the metrics frame; check id -> success.

    Args:
        checks: every check (the suites are built from them).
        measured: check id -> metric.
        data_docs_dir: when given, GX data docs (HTML) are built into this folder (a temporary
            folder renamed into place, so a reader never sees half of them).
        docs_in_background: build the docs in a forked process and return as soon as the suites
            have run; ``wait_for_data_docs(data_docs_dir)`` waits for them (and raises their error).
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    building = None
    if data_docs_dir is not None:
        wait_for_data_docs(data_docs_dir)  # an earlier build into the same folder finishes first
        building = _staging(data_docs_dir)
        shutil.rmtree(building, ignore_errors=True)
        _error_file(data_docs_dir).unlink(missing_ok=True)
        building.mkdir(parents=True)
        context.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(building)},
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
            actions=[],  # the docs are built from the stored results below, possibly in another process
            # the report takes examples from DuckDB; GX's own result detail only matters for the data docs
            result_format={"result_format": "BASIC" if data_docs_dir is not None else "BOOLEAN_ONLY"},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    success: dict[str, bool] = {}
    for run in result.run_results.values():
        for item in run.results:  # grouped by column, not in suite order: keyed by the check id
            success[item.expectation_config.kwargs["column"]] = bool(item.success)
    if data_docs_dir is not None:
        _build_docs(context, building, data_docs_dir, docs_in_background)
    return success


# --------------------------------------------------------------------------- data docs

# folder -> pid of the forked process building its docs (in this process's lifetime)
_PENDING_DOCS: dict[str, int] = {}
_PENDING_LOCK = threading.Lock()


def _staging(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.building")


def _error_file(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.error")


def _build_docs(context, building: Path, folder: Path, background: bool) -> None:
    """Render the docs of the context's stored results into ``building``, then rename it to ``folder``.

    Rendering is seconds of pure Python (Jinja templates): in the background it runs in a forked
    process, on the other core, while the answers and reports run here.
    """

    def render() -> None:
        context.build_data_docs(site_names=[SITE])
        if not (building / "index.html").exists():
            raise RuntimeError(f"Great Expectations wrote no index.html into {building}")
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(building, folder)

    if not (background and hasattr(os, "fork")):
        render()
        return
    pid = os.fork()
    if pid == 0:  # the child: only this thread exists; never return into the parent's code
        code = 1
        try:
            render()
            code = 0
        except BaseException:  # noqa: BLE001 - reported to the parent by the exit status and the log file
            import traceback

            _error_file(folder).write_text(traceback.format_exc())
        finally:
            os._exit(code)
    with _PENDING_LOCK:
        _PENDING_DOCS[str(folder)] = pid


def wait_for_data_docs(folder: Path) -> Path | None:
    """Wait for a background build of ``folder`` started by this process; the folder when it holds docs.

    Raises:
        RuntimeError: the background build failed; the message carries its traceback.
    """
    with _PENDING_LOCK:
        pid = _PENDING_DOCS.pop(str(folder), None)
    if pid is not None:
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            error = _error_file(folder)
            detail = error.read_text() if error.exists() else f"exit status {os.waitstatus_to_exitcode(status)}"
            raise RuntimeError(f"building the GX data docs into {folder} failed:\n{detail}")
    return folder if (folder / "index.html").exists() else None
