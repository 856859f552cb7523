"""Generate a dataset to files: Parquet per table (the working copy) and CSV written from it with Arrow.

Returns where everything went, the row counts and the measured scenario effects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from schemas.spec import ChallengeSpec
from tasks.engine.generate import generate_dataset
from tasks.engine.planner import resolve_plan
from tasks.engine.scenarios import measure_scenarios
from tasks.engine.types import to_arrow


@dataclass
class DatasetFiles:
    parquet: dict[str, Path]
    csv: dict[str, Path]
    row_counts: dict[str, int]
    scenarios: list[dict] = field(default_factory=list)
    issue_log: list[dict] = field(default_factory=list)


def generate_to_files(
    spec: ChallengeSpec,
    work_dir: Path,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> DatasetFiles:
    """Build every table and write ``work_dir/parquet/<table>.parquet`` and ``work_dir/csv/<table>.csv``."""
    plan = resolve_plan(spec)
    tables = generate_dataset(spec, plan, progress=progress)
    scenarios = measure_scenarios(spec, tables)
    parquet_dir, csv_dir = work_dir / "parquet", work_dir / "csv"
    parquet_dir.mkdir(parents=True, exist_ok=True)
    csv_dir.mkdir(parents=True, exist_ok=True)
    files = DatasetFiles({}, {}, {}, scenarios)
    for table in spec.tables:
        arrow = to_arrow(tables[table.name], table)
        files.parquet[table.name] = _atomic(
            parquet_dir / f"{table.name}.parquet", lambda p, a=arrow: pq.write_table(a, p)
        )
        files.csv[table.name] = _atomic(csv_dir / f"{table.name}.csv", lambda p, a=arrow: pacsv.write_csv(a, p))
        files.row_counts[table.name] = arrow.num_rows
    return files


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Write under a temporary name, then rename, so a crash never leaves a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path
