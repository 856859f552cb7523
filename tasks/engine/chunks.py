"""One chunk of one table: build its rows, thin them, and hand them to a sink; or finish a staged chunk.

A chunk is a fixed range of candidate rows (a whole number of random blocks), so any chunk can be
built alone, in any process, and gives the same rows. ``run_chunk`` and ``finish_chunk`` are plain,
picklable functions over a ``ChunkJob``: the flow may fan them out with any ``map_fn``.
Tables with rollups or volume scenarios are *staged*: their chunks are kept as they are built and
finished (rollups filled, sequences numbered) once the whole table and its children exist.
"""

from __future__ import annotations

import os
import pickle
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.feather as feather
import pyarrow.parquet as pq

from schemas.dependencies import column_dependencies
from schemas.errors import DataFactoryError, GenerationError, with_path
from schemas.spec import ChallengeSpec
from tasks.engine.columns import BuildContext, build_column
from tasks.engine.evaluate import evaluate
from tasks.engine.planner import ResolvedPlan, TablePlan
from tasks.engine.relations import ForeignKeySetup, Retained, RollupPartial, compact, rollup_partial
from tasks.engine.scenarios import ScenarioStats, apply_column_scenarios, scenario_stats, volume_keep
from tasks.engine.types import to_arrow

ROW = "__row"  # candidate row number: keys every random stream of the row
POS = "__pos__"  # prefix of a foreign key's parent position


# --------------------------------------------------------------------------- sinks


class Sink(Protocol):
    """Where finished chunks go. Must be picklable when chunks run in other processes."""

    def write(self, table: str, index: int, data: pa.Table) -> None: ...
    def stage(self, table: str, index: int, frame: pd.DataFrame) -> None: ...
    def unstage(self, table: str, index: int) -> pd.DataFrame: ...
    def load_result(self, table: str, phase: str, index: int) -> ChunkResult | None: ...
    def save_result(self, result: ChunkResult, phase: str) -> None: ...
    def flush(self) -> None: ...


class MemorySink:
    """Keeps chunks in memory (the preview and ``generate_dataset``); for plain or threaded maps."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[int, pa.Table]] = {}
        self.staged: dict[tuple[str, int], pd.DataFrame] = {}

    def write(self, table: str, index: int, data: pa.Table) -> None:
        self.parts.setdefault(table, {})[index] = data

    def stage(self, table: str, index: int, frame: pd.DataFrame) -> None:
        self.staged[(table, index)] = frame

    def unstage(self, table: str, index: int) -> pd.DataFrame:
        return self.staged.pop((table, index))

    def load_result(self, table: str, phase: str, index: int) -> ChunkResult | None:
        return None

    def save_result(self, result: ChunkResult, phase: str) -> None:
        return None

    def flush(self) -> None:
        return None

    def table(self, name: str, schema: pa.Schema) -> pa.Table:
        parts = [self.parts.get(name, {})[i] for i in sorted(self.parts.get(name, {}))]
        return pa.concat_tables(parts) if parts else schema.empty_table()


class FileSink:
    """Parquet parts ``parquet/<table>/part-NNNNN.parquet`` and CSV parts, each written then renamed.

    A chunk's result (``.parts/results``) is written last, so its presence means the chunk is
    complete: ``resume`` skips such chunks.
    """

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = Path(work_dir)
        self.parts_dir = self.work_dir / ".parts"

    def parquet_part(self, table: str, index: int) -> Path:
        return self.work_dir / "parquet" / table / f"part-{index:05d}.parquet"

    def csv_part(self, table: str, index: int) -> Path:
        return self.parts_dir / "csv" / table / f"part-{index:05d}.csv"

    def _staged(self, table: str, index: int) -> Path:
        return self.parts_dir / "staging" / table / f"part-{index:05d}.arrow"

    def _result(self, table: str, phase: str, index: int) -> Path:
        return self.parts_dir / "results" / table / f"{phase}-{index:05d}.pkl"

    def write(self, table: str, index: int, data: pa.Table) -> None:
        """Parquet and CSV part of one chunk, written by background threads (Arrow releases the GIL).

        The next chunk is built meanwhile; ``save_result`` for the same chunk is queued after these
        writes, and ``flush`` waits for all of them (``run_chunk`` flushes unless the job defers).
        """
        parquet, csv = self.parquet_part(table, index), self.csv_part(table, index)
        _WRITER.submit(self._key(table, index), lambda: _write_part(data, parquet, csv))

    def stage(self, table: str, index: int, frame: pd.DataFrame) -> None:
        data = pa.Table.from_pandas(frame, preserve_index=False)
        atomic(self._staged(table, index), lambda p: feather.write_feather(data, p, compression="uncompressed"))

    def unstage(self, table: str, index: int) -> pd.DataFrame:
        data = feather.read_table(self._staged(table, index))
        return data.to_pandas(types_mapper={pa.string(): pd.ArrowDtype(pa.string())}.get)

    def load_result(self, table: str, phase: str, index: int) -> ChunkResult | None:
        path = self._result(table, phase, index)
        if not path.exists():
            return None
        # our own file from an earlier run of this work folder (its spec fingerprint is checked)
        with path.open("rb") as handle:
            return pickle.load(handle)  # noqa: S301

    def save_result(self, result: ChunkResult, phase: str) -> None:
        def dump(path: Path) -> None:
            with path.open("wb") as handle:
                pickle.dump(result, handle, protocol=pickle.HIGHEST_PROTOCOL)

        path = self._result(result.table, phase, result.index)
        # queued behind the chunk's file writes: a result on disk always means complete parts
        _WRITER.submit(self._key(result.table, result.index), lambda: atomic(path, dump))

    def flush(self) -> None:
        """Wait until every file this process queued for this work folder is on disk; raise a write error."""
        _WRITER.wait(str(self.work_dir))

    def _key(self, table: str, index: int) -> tuple[str, str, int]:
        return (str(self.work_dir), table, index)


def _write_part(data: pa.Table, parquet: Path, csv: Path) -> None:
    """Parquet (snappy) in a helper thread while this thread writes the header-less CSV part."""
    done = _PARQUET_THREAD.submit(atomic, parquet, lambda p: pq.write_table(data, p, compression="snappy"))
    options = pacsv.WriteOptions(include_header=False)
    try:
        atomic(csv, lambda p: pacsv.write_csv(data, p, options))
    finally:
        done.result()


class _BackgroundWriter:
    """File writes of finished chunks, in submission order on one thread, at most ``MAX_PENDING`` queued.

    Per process: a sink pickled into another process queues there, so chunks flush before returning
    unless the runner knows they run here (``ChunkJob.defer_writes``).
    """

    MAX_PENDING = 2  # two chunks of 250k rows in flight: the build rarely waits for the disk (1M rows: -10% time)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[tuple[str, Future]] = []

    def submit(self, key: tuple[str, str, int], work) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="datafactory-writer")
            self._pending.append((key[0], self._pool.submit(work)))
            waiting = [f for _, f in self._pending if not f.done()]
        # bounded memory: do not run ahead of the disk by more than a few chunks
        for future in waiting[: max(0, len(waiting) - self.MAX_PENDING)]:
            future.result()

    def wait(self, folder: str) -> None:
        with self._lock:
            mine = [f for k, f in self._pending if k == folder]
            self._pending = [(k, f) for k, f in self._pending if k != folder]
        errors = [f.exception() for f in mine]
        first = next((e for e in errors if e is not None), None)
        if first is not None:
            raise first


_WRITER = _BackgroundWriter()
_PARQUET_THREAD = ThreadPoolExecutor(1, thread_name_prefix="datafactory-parquet")


def atomic(path: Path, write) -> Path:
    """Write under a temporary name, then rename, so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)
    return path


# --------------------------------------------------------------------------- jobs and results


@dataclass
class TableRun:
    """What every chunk of one table needs, built once in the main process."""

    spec: ChallengeSpec
    plan: ResolvedPlan
    table: str
    total_rows: int
    parents: dict[str, Retained]
    foreign_keys: dict[str, ForeignKeySetup]
    feeds_rollups: tuple[tuple[str, str], ...] = ()  # (parent table, rollup column) this table feeds
    feeds_aggregates: tuple[str, ...] = ()  # aggregate tables computed from this one


@dataclass
class ChunkJob:
    run: TableRun
    index: int
    start: int
    stop: int
    sink: Sink
    resume: bool = False
    offset: int = 0  # finish phase: final row number of the chunk's first row
    patches: dict[str, np.ndarray] = field(default_factory=dict)  # finish phase: rollup values
    defer_writes: bool = False  # the chunk runs in the runner's process: its files may land after it returns


@dataclass
class ChunkResult:
    table: str
    index: int
    rows: int
    kept: dict[str, object] = field(default_factory=dict)
    rollups: dict[tuple[str, str], RollupPartial] = field(default_factory=dict)
    aggregates: dict[str, pd.DataFrame] = field(default_factory=dict)
    scenarios: dict[str, ScenarioStats] = field(default_factory=dict)


def run_chunk(job: ChunkJob) -> ChunkResult:
    """Build candidate rows ``[start, stop)`` of a table; write them, or stage them when the table is staged."""
    run = job.run
    tplan = run.plan.tables[run.table]
    phase = "build"
    if job.resume and (done := job.sink.load_result(run.table, phase, job.index)) is not None:
        return done
    table = run.spec.table(run.table)
    ctx = BuildContext(
        run.spec,
        table,
        np.arange(job.start, job.stop, dtype=np.int64),
        parents=run.parents,
        foreign_keys=run.foreign_keys,
        plan=tplan,
        total_rows=run.total_rows,
    )
    try:
        _build_columns(ctx, tplan)
    except DataFactoryError as exc:
        raise with_path(exc, f"tables.{run.table}") from None
    frame = _frame(ctx)
    if tplan.volume_scenarios:
        frame = frame[volume_keep(ctx, tplan)].reset_index(drop=True)
    frame = _apply_nulls(ctx, frame, [c.name for c in table.columns if c.generator.kind != "rollup"])
    result = ChunkResult(run.table, job.index, len(frame))
    result.kept = {c: compact(frame[c]) for c in tplan.retain if c not in tplan.rollup_columns}
    result.rollups = _rollup_partials(run, frame)
    if tplan.staged:
        job.sink.stage(run.table, job.index, frame)
    else:
        _emit(run, job, frame, result)
    job.sink.save_result(result, phase)
    _flush(job)
    return result


def _flush(job: ChunkJob) -> None:
    if not job.defer_writes:
        job.sink.flush()


def finish_chunk(job: ChunkJob) -> ChunkResult:
    """Finish a staged chunk: number its sequences from ``offset``, fill rollups, rebuild what reads them."""
    run = job.run
    tplan = run.plan.tables[run.table]
    if job.resume and (done := job.sink.load_result(run.table, "finish", job.index)) is not None:
        return done
    table = run.spec.table(run.table)
    frame = job.sink.unstage(run.table, job.index)
    n = len(frame)
    ctx = BuildContext(
        run.spec,
        table,
        frame[ROW].to_numpy(dtype=np.int64),
        {c: frame[c] for c in frame.columns if not c.startswith("__")},
        run.parents,
        {c[len(POS) :]: frame[c].to_numpy() for c in frame.columns if c.startswith(POS)},
        run.foreign_keys,
        tplan,
        run.total_rows,
        job.offset + np.arange(n, dtype=np.int64),
    )
    stale = set(job.patches)
    for name, values in job.patches.items():
        ctx.columns[name] = pd.Series(values)
    if tplan.volume_scenarios:
        stale |= {c.name for c in table.columns if c.generator.kind == "sequence"}
    rebuilt: list[str] = []
    for name in tplan.column_order:
        column = table.column(name)
        if name in stale and column.generator.kind == "rollup":
            continue
        if name in stale or column_dependencies(column.generator) & stale:
            try:
                ctx.columns[name] = build_column(ctx, column)
            except DataFactoryError as exc:
                raise with_path(exc, f"tables.{run.table}.columns.{name}") from None
            stale.add(name)
            rebuilt.append(name)
    out = pd.DataFrame({c.name: _plain(ctx.columns[c.name]) for c in table.columns}, copy=False)
    out[ROW] = ctx.rows
    out = _apply_nulls(ctx, out, [*rebuilt, *tplan.rollup_columns])
    result = ChunkResult(run.table, job.index, n)
    result.kept = {c: compact(out[c]) for c in tplan.retain if c in stale}
    _emit(run, job, out, result)
    job.sink.save_result(result, "finish")
    _flush(job)
    return result


def _build_columns(ctx: BuildContext, plan: TablePlan) -> None:
    for name in plan.column_order:
        column = ctx.table.column(name)
        try:
            values = build_column(ctx, column)
        except DataFactoryError as exc:
            raise with_path(exc, f"columns.{name}") from None
        if len(values) != ctx.n:
            raise GenerationError(f"built {len(values)} values for {ctx.n} rows", f"columns.{name}")
        ctx.columns[name] = apply_column_scenarios(ctx, column, _plain(values))


def _frame(ctx: BuildContext) -> pd.DataFrame:
    data = {c.name: _plain(ctx.columns[c.name]) for c in ctx.table.columns}
    data[ROW] = ctx.rows
    for name, positions in ctx.positions.items():
        data[POS + name] = positions
    # no copy: consolidating a chunk's columns into 2-D blocks cost a tenth of its build time
    return pd.DataFrame(data, copy=False)


def _plain(values: pd.Series) -> pd.Series:
    """``values`` on the index 0..n-1 (copied only when it has another index)."""
    index = values.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return values
    return values.reset_index(drop=True)


def _apply_nulls(ctx: BuildContext, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Empty cells at the stated rate, decided per row from its own stream (chunk-independent)."""
    rows = frame[ROW].to_numpy(dtype=np.int64)
    for name in names:
        column = ctx.table.column(name)
        if column.nullable <= 0 or not len(frame):
            continue
        rng = BuildContext(ctx.spec, ctx.table, rows).rng(name, "nulls")
        empty = rng.random(len(rows)) < column.nullable
        values = frame[name]
        if column.type in ("int", "float", "decimal"):
            values = values.astype(float)
        elif column.type == "bool" or isinstance(values.dtype, pd.ArrowDtype):
            values = values.astype(object)
        frame[name] = values.mask(empty)
    return frame


def _rollup_partials(run: TableRun, frame: pd.DataFrame) -> dict[tuple[str, str], RollupPartial]:
    out = {}
    columns = {c: frame[c] for c in frame.columns if not c.startswith("__")}
    for parent, column_name in run.feeds_rollups:
        gen = run.spec.table(parent).column(column_name).generator
        positions = frame[POS + gen.via].to_numpy()
        values = None
        if gen.expression is not None:
            values = pd.to_numeric(evaluate(gen.expression, columns, len(frame))).to_numpy(dtype=float, na_value=np.nan)
        out[(parent, column_name)] = rollup_partial(positions, values)
    return out


def _emit(run: TableRun, job: ChunkJob, frame: pd.DataFrame, result: ChunkResult) -> None:
    """Final values of a chunk: typed, written, measured for scenarios, partially aggregated."""
    table = run.spec.table(run.table)
    job.sink.write(run.table, job.index, to_arrow(frame, table))
    columns = {c.name: frame[c.name] for c in table.columns}
    for scenario in run.spec.scenarios:
        if scenario.table == run.table:
            result.scenarios[scenario.name] = scenario_stats(scenario, columns, len(frame))
    for aggregate in run.feeds_aggregates:
        from tasks.engine.aggregates import aggregate_partial

        result.aggregates[aggregate] = aggregate_partial(run.spec.table(aggregate), columns, len(frame))
