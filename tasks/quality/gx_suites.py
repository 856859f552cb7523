"""Great Expectations 1.x as the contract: one expectation suite per category, run in an ephemeral context.

The checks' metrics (computed in DuckDB, see ``tasks.quality.measure``) form one wide metrics frame,
one column per check; each category's suite holds one expectation per check on its column
(``expect_column_values_to_be_between`` for counts, rates and moments, ``..._to_be_in_set`` for
types). GX decides pass or fail and, when asked, builds the data docs (HTML) into a folder.
"""

from __future__ import annotations

import logging
import os
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
    checks: list[Check], measured: dict[str, Measured], data_docs_dir: Path | None = None
) -> dict[str, bool]:
    """Run the 8 category suites on the metrics frame; check id -> success.

    Args:
        checks: every check (the suites are built from them).
        measured: check id -> metric.
        data_docs_dir: when given, GX data docs (HTML) are built into this folder.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    actions = []
    if data_docs_dir is not None:
        data_docs_dir.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            SITE,
            {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(data_docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
        actions.append(gx.checkpoint.UpdateDataDocsAction(name="instructor_docs", site_names=[SITE]))
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
            actions=actions,
            # the report takes examples from DuckDB; GX's own result detail only matters for the data docs
            result_format={"result_format": "BASIC" if data_docs_dir is not None else "BOOLEAN_ONLY"},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    success: dict[str, bool] = {}
    for run in result.run_results.values():
        for item in run.results:  # grouped by column, not in suite order: keyed by the check id
            success[item.expectation_config.kwargs["column"]] = bool(item.success)
    return success
