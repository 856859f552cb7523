"""Estimate a run's size from its plan before any row exists, and refuse a run that would not fit.

Rows per table follow the plan's row-count rules: a fixed count (``rows``/``ratio``) as planned; a
date dimension one row per day (or month) of its window; a table whose rows follow a parent the
parent's rows times the mean of ``min_children``..``max_children``; a pre-aggregated table at most
its source's rows (an upper bound: groups are known only once the source exists). Bytes are rows
times a per-type width of the CSV text (``CSV_BYTES``), times ``DISK_FACTOR`` for everything a run
writes: the Parquet parts, the CSVs and the two ZIPs. The figures are estimates for a refusal with
a reason, not an exact forecast.

``check_rows_requested`` needs only ``--rows`` (the main fact table alone has that many rows), so
it runs before any Prefect work; ``check_run_size`` runs on the final spec before phase 4.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import InputError
from schemas.spec import ChallengeSpec, DateSequenceGenerator, ForeignKeyGenerator

# bytes of one value as CSV text, separator included (faker text and decimals vary: these are typical)
CSV_BYTES = {
    "int": 8,
    "float": 10,
    "decimal": 9,
    "string": 18,
    "bool": 6,
    "date": 11,
    "datetime": 20,
    "category": 10,
}
# Parquet (about half the CSV) + CSV + full and learner ZIPs (about a third each)
DISK_FACTOR = 2.2
# the smallest row a fact table has (a key, a date, a measure): the bound used before the spec exists
MIN_ROW_BYTES = 24


@dataclass(frozen=True)
class SizeEstimate:
    rows: dict[str, int]  # table -> estimated rows
    bytes: dict[str, int]  # table -> estimated bytes on disk (all copies)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def largest(self, n: int = 3) -> str:
        """The biggest tables, e.g. ``orders 2,500,000,000 rows (180 GB)``."""
        top = sorted(self.rows, key=lambda t: self.bytes[t], reverse=True)[:n]
        return ", ".join(f"{t} {self.rows[t]:,} rows ({human_bytes(self.bytes[t])})" for t in top)


def human_bytes(value: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} TB"


def estimate_size(spec: ChallengeSpec) -> SizeEstimate:
    """Rows and bytes per table of ``spec``, parents before children (the plan's order rules)."""
    rows: dict[str, int] = {}
    pending = [t.name for t in spec.tables]
    # tables only depend on parents and sources, which the spec's validation keeps acyclic
    for _ in range(len(pending) + 1):
        for name in list(pending):
            count = _rows(spec, name, rows)
            if count is not None:
                rows[name] = count
                pending.remove(name)
        if not pending:
            break
    for name in pending:  # a dependency the rules above do not cover: count it as the main fact table
        rows[name] = spec.scale
    widths = {t.name: sum(CSV_BYTES.get(c.type, 12) for c in t.columns) for t in spec.tables}
    return SizeEstimate(
        rows={t.name: rows[t.name] for t in spec.tables},
        bytes={t.name: int(rows[t.name] * widths[t.name] * DISK_FACTOR) for t in spec.tables},
    )


def _rows(spec: ChallengeSpec, name: str, known: dict[str, int]) -> int | None:
    table = spec.table(name)
    if table.rows is not None:
        return table.rows
    if table.ratio is not None:
        return max(1, round(table.ratio * spec.scale))
    if table.aggregate_of is not None:
        return known.get(table.aggregate_of)
    calendar = next((c for c in table.columns if isinstance(c.generator, DateSequenceGenerator)), None)
    if calendar is not None:
        gen = calendar.generator
        start = gen.start or spec.challenge.time_window.start
        end = gen.end or spec.challenge.time_window.end
        return _periods(start, end, gen.freq)
    driver = next(
        (c for c in table.columns if isinstance(c.generator, ForeignKeyGenerator) and c.generator.max_children),
        None,
    )
    if driver is None:
        return spec.scale
    parent = known.get(driver.generator.parent_table)
    if parent is None:
        return None
    low = driver.generator.min_children or 0
    high = 1 if driver.unique else driver.generator.max_children
    return max(1, round(parent * (low + high) / 2))


def _periods(start: dt.date, end: dt.date, freq: str) -> int:
    if freq == "month":
        return max(1, (end.year - start.year) * 12 + end.month - start.month + 1)
    return max(1, (end - start).days + 1)


def free_bytes(folder: Path) -> int:
    """Free space of the file system ``folder`` is on (its nearest existing ancestor)."""
    folder = Path(folder).resolve()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_rows_requested(rows: int, max_rows: int, max_bytes: int, out_dir: Path | None) -> None:
    """Refuse ``--rows`` that alone exceeds the row or byte limit or the free disk, before any work.

    Raises:
        InputError: the figures, the limit and how to lower the rows or raise the limit.
    """
    if rows > max_rows:
        raise InputError(
            f"--rows {rows:,} is above the limit of {max_rows:,} rows per run (DATAFACTORY_MAX_ROWS); "
            f"lower --rows or raise DATAFACTORY_MAX_ROWS"
        )
    least = int(rows * MIN_ROW_BYTES * DISK_FACTOR)
    if least > max_bytes:
        raise InputError(
            f"--rows {rows:,} would write at least {human_bytes(least)}, above the limit of {human_bytes(max_bytes)} "
            f"(DATAFACTORY_MAX_BYTES); lower --rows or raise DATAFACTORY_MAX_BYTES"
        )
    if out_dir is not None:
        free = free_bytes(out_dir)
        if least > free:
            raise InputError(
                f"--rows {rows:,} would write at least {human_bytes(least)}, but {out_dir} has only "
                f"{human_bytes(free)} free; lower --rows or choose another --out"
            )


def check_run_size(spec: ChallengeSpec, max_rows: int, max_bytes: int, out_dir: Path) -> SizeEstimate:
    """Refuse a spec whose estimated rows or bytes exceed the limits or the free disk of ``out_dir``.

    Returns:
        The estimate, when it fits.

    Raises:
        InputError: the totals, the largest tables, the limit and how to raise it.
    """
    estimate = estimate_size(spec)
    where = f"the challenge would generate about {estimate.total_rows:,} rows ({human_bytes(estimate.total_bytes)}"
    where += f" on disk; largest: {estimate.largest()})"
    if estimate.total_rows > max_rows:
        raise InputError(
            f"{where}, above the limit of {max_rows:,} rows (DATAFACTORY_MAX_ROWS); lower --rows "
            f"(the spec's scale is {spec.scale:,}) or raise DATAFACTORY_MAX_ROWS"
        )
    if estimate.total_bytes > max_bytes:
        raise InputError(
            f"{where}, above the limit of {human_bytes(max_bytes)} (DATAFACTORY_MAX_BYTES); lower --rows "
            f"(the spec's scale is {spec.scale:,}) or raise DATAFACTORY_MAX_BYTES"
        )
    free = free_bytes(out_dir)
    if estimate.total_bytes > free:
        raise InputError(
            f"{where}, but {out_dir} has only {human_bytes(free)} free; free some space, choose another --out "
            "or lower --rows"
        )
    return estimate
