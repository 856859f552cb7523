"""Generate a dataset to files: Parquet parts per table (the working copy) and one CSV per table.

Chunks write ``parquet/<table>/part-NNNNN.parquet`` and a header-less CSV part with Arrow; the
CSV of a table is its header plus its parts, joined byte for byte, then renamed into place.
Returns where everything went, the row counts and the measured scenario effects. ``resume=True``
keeps the complete chunks of an interrupted run of the same spec and builds only the missing ones.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from schemas.spec import ChallengeSpec
from tasks.engine.chunks import FileSink, atomic
from tasks.engine.generate import MapFn, Progress, run_dataset
from tasks.engine.planner import resolve_plan, spec_fingerprint
from tasks.engine.types import arrow_schema


@dataclass
class DatasetFiles:
    parquet: dict[str, Path]  # table -> folder of Parquet parts (pyarrow and pandas read it whole)
    csv: dict[str, Path]
    row_counts: dict[str, int]
    scenarios: list[dict] = field(default_factory=list)
    issue_log: list[dict] = field(default_factory=list)

    def parquet_glob(self, table: str) -> str:
        """A glob of the table's parts, for DuckDB's ``read_parquet``."""
        return str(self.parquet[table] / "*.parquet")


def generate_to_files(
    spec: ChallengeSpec,
    work_dir: Path,
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
    map_fn: MapFn | None = None,
    resume: bool = False,
) -> DatasetFiles:
    """Build every table into ``work_dir/parquet/<table>/`` and ``work_dir/csv/<table>.csv``.

    Args:
        spec: a validated challenge spec.
        work_dir: the run's work folder.
        progress: called with (table, rows done so far) as chunks complete.
        chunk_rows: rows per chunk (bounded memory); the files' content does not depend on it.
        map_fn: ``map_fn(fn, jobs) -> results`` to fan chunks out over a task runner; plain map by default.
        resume: keep the complete chunks of an earlier interrupted run of the same spec.

    Raises:
        GenerationError: the data the spec asks for cannot be built (raised before any row is written
            when it can be known from the spec).
    """
    work_dir = Path(work_dir)
    plan = resolve_plan(spec)
    sink = FileSink(work_dir)
    _prepare_work_dir(sink, spec_fingerprint(spec), chunk_rows, resume)
    run = run_dataset(spec, sink, plan=plan, progress=progress, chunk_rows=chunk_rows, map_fn=map_fn, resume=resume)
    files = DatasetFiles({}, {}, dict(run.row_counts), run.scenarios)
    for table in spec.tables:
        folder = work_dir / "parquet" / table.name
        _drop_stale_parts(folder, run.chunks.get(table.name, 0))
        if not any(folder.glob("*.parquet")):
            atomic(
                sink.parquet_part(table.name, 0), lambda p, t=table: pq.write_table(arrow_schema(t).empty_table(), p)
            )
        files.parquet[table.name] = folder
        files.csv[table.name] = _join_csv(sink, table.name, arrow_schema(table), run.chunks.get(table.name, 0))
    shutil.rmtree(sink.parts_dir, ignore_errors=True)
    return files


def _prepare_work_dir(sink: FileSink, fingerprint: str, chunk_rows: int | None, resume: bool) -> None:
    """Resume only the parts of the same spec and chunking; otherwise start clean."""
    marker = sink.parts_dir / "run.json"
    wanted = {"fingerprint": fingerprint, "chunk_rows": chunk_rows}
    same = marker.exists() and json.loads(marker.read_text()) == wanted
    if not (resume and same):
        shutil.rmtree(sink.parts_dir, ignore_errors=True)
        shutil.rmtree(sink.work_dir / "parquet", ignore_errors=True)
    sink.parts_dir.mkdir(parents=True, exist_ok=True)
    atomic(marker, lambda p: p.write_text(json.dumps(wanted)))


def _drop_stale_parts(folder: Path, chunks: int) -> None:
    for part in folder.glob("part-*.parquet"):
        if int(part.stem.split("-")[1]) >= chunks:
            part.unlink()


def _join_csv(sink: FileSink, table: str, schema: pa.Schema, chunks: int) -> Path:
    """Header, then every part in chunk order, copied byte for byte into one file."""
    path = sink.work_dir / "csv" / f"{table}.csv"

    def write(target: Path) -> None:
        pacsv.write_csv(schema.empty_table(), target)  # the header line, quoted as Arrow quotes it
        with target.open("r+b") as out:  # not append mode: the kernel copy refuses O_APPEND files
            for index in range(chunks):
                with sink.csv_part(table, index).open("rb") as part:
                    _append(part, out)

    return atomic(path, write)


def _append(part, out) -> None:
    """Copy a whole part to the end of ``out``: in the kernel when the platform can, else through a buffer."""
    out.flush()
    out.seek(0, os.SEEK_END)
    size = os.fstat(part.fileno()).st_size
    done = 0
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        try:
            while done < size:
                step = copy(part.fileno(), out.fileno(), size - done)  # advances both files' offsets
                if step == 0:
                    break
                done += step
        except OSError:
            if done:
                raise
    if done < size:
        part.seek(done)
        out.seek(0, os.SEEK_END)
        shutil.copyfileobj(part, out, 1 << 22)


def write_csv(data: pd.DataFrame | pa.Table, path: Path) -> Path:
    """Write one table as CSV with Arrow (a temporary name, then renamed); returns ``path``."""
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    return atomic(Path(path), lambda p: pacsv.write_csv(table, p))
