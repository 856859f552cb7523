"""Run a resolved plan: tables in dependency order, each as chunks fanned out with ``map_fn``.

Stages: spec -> ``resolve_plan`` -> per table: prepare (row count, foreign keys) -> chunks ->
(staged tables) finish -> sink. Same spec + seed + variant -> the same rows, whatever the chunk size,
the number of workers or the mapper. ``generate_dataset`` keeps everything in memory (the preview
and tests); ``tasks.engine.output.generate_to_files`` writes Parquet and CSV parts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from schemas.errors import DataFactoryError, GenerationError, with_path
from schemas.spec import ChallengeSpec
from tasks.engine.aggregates import combine_aggregate
from tasks.engine.chunks import ChunkJob, ChunkResult, MemorySink, Sink, TableRun, finish_chunk, run_chunk
from tasks.engine.columns import BuildContext, build_column, date_sequence
from tasks.engine.planner import ResolvedPlan, resolve_plan, spec_fingerprint
from tasks.engine.relations import (
    Retained,
    RollupTotals,
    cardinality_bounds,
    compact,
    concat_kept,
    prepare_foreign_key,
)
from tasks.engine.scenarios import ScenarioStats, measured_effect
from tasks.engine.seed import BLOCK_ROWS
from tasks.engine.types import arrow_schema, arrow_to_frame

Progress = Callable[[str, int, float], None]  # (table, rows done so far, share of the table done)
MapFn = Callable[[Callable[[Any], Any], list], list]
DEFAULT_CHUNK_ROWS = 250_000


def _quiet_flush(sink: Sink) -> None:
    with contextlib.suppress(Exception):  # the error being raised already says what went wrong
        sink.flush()


def plain_map(fn: Callable[[Any], Any], items: list) -> list:
    """The default mapper: one chunk after the other, in this process."""
    return [fn(item) for item in items]


@dataclass
class DatasetRun:
    """What a run produced besides the rows: final counts and the scenarios' stated vs measured effects."""

    row_counts: dict[str, int] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)
    scenarios: list[dict] = field(default_factory=list)


def chunk_size(chunk_rows: int | None) -> int:
    """Rows per chunk, rounded up to whole random blocks (so chunking never changes a value)."""
    rows = chunk_rows or DEFAULT_CHUNK_ROWS
    if rows < 1:
        raise GenerationError(f"chunk_rows must be at least 1, got {rows}")
    return -(-rows // BLOCK_ROWS) * BLOCK_ROWS


def generate_dataset(
    spec: ChallengeSpec,
    plan: ResolvedPlan | None = None,
    row_cap: int | None = None,
    progress: Progress | None = None,
    *,
    chunk_rows: int | None = None,
    map_fn: MapFn | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of ``spec`` as a DataFrame with its final column types.

    Args:
        spec: a validated challenge spec.
        plan: from ``resolve_plan(spec)``; resolved here when omitted.
        row_cap: at most this many rows per table (the preview); None for the full size.
        progress: called with (table name, rows done so far, share of the table done in [0, 1]) after
            every chunk; a staged table's first pass runs to 0.5 and its finishing pass to 1.
        chunk_rows: rows per chunk (rounded up to whole blocks); the values do not depend on it.
        map_fn: ``map_fn(fn, items) -> list`` to fan chunks out (threads only: rows stay in memory).

    Raises:
        GenerationError: the data the spec asks for cannot be built; the message says where and why.
    """
    sink = MemorySink()
    run_dataset(spec, sink, plan=plan, row_cap=row_cap, progress=progress, chunk_rows=chunk_rows, map_fn=map_fn)
    return {t.name: arrow_to_frame(sink.table(t.name, arrow_schema(t))) for t in spec.tables}


def run_dataset(
    spec: ChallengeSpec,
    sink: Sink,
    *,
    plan: ResolvedPlan | None = None,
    row_cap: int | None = None,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
    map_fn: MapFn | None = None,
    resume: bool = False,
) -> DatasetRun:
    """Generate every table into ``sink``; see ``generate_dataset`` for the arguments."""
    plan = plan or resolve_plan(spec)
    if plan.fingerprint != spec_fingerprint(spec):
        raise GenerationError("the plan was resolved from another spec; resolve it again")
    return _Runner(spec, plan, sink, row_cap, progress, chunk_size(chunk_rows), map_fn or plain_map, resume).run()


class _Runner:
    """The state between tables: kept parent columns, rollup totals, aggregate partials, scenario counts."""

    def __init__(self, spec, plan, sink, row_cap, progress, chunk_rows, map_fn, resume) -> None:
        self.spec, self.plan, self.sink = spec, plan, sink
        self.row_cap, self.progress, self.chunk_rows, self.map_fn, self.resume = (
            row_cap,
            progress,
            chunk_rows,
            map_fn,
            resume,
        )
        self.kept: dict[str, Retained] = {}
        self.rollups: dict[tuple[str, str], RollupTotals] = {}
        self.aggregates: dict[str, list[pd.DataFrame]] = {}
        self.scenarios: dict[str, ScenarioStats] = {}
        self.staged: dict[str, tuple[TableRun, list[ChunkResult]]] = {}
        self.out = DatasetRun()

    def run(self) -> DatasetRun:
        try:
            self._tables()
        except BaseException:
            _quiet_flush(self.sink)  # files already queued still land, so a resume can keep them
            raise
        self.sink.flush()
        self.out.scenarios = [
            measured_effect(s, self.scenarios.get(s.name, ScenarioStats())) for s in self.spec.scenarios
        ]
        return self.out

    def _tables(self) -> None:
        for name in self.plan.order:
            try:
                if self.spec.table(name).aggregate_of is not None:
                    self._aggregate(name)
                else:
                    self._table(name)
                self._finish_ready()
            except DataFactoryError as exc:
                raise exc if exc.path.startswith("tables.") else with_path(exc, f"tables.{name}") from None

    def _job(self, run: TableRun, index: int, start: int, stop: int, offset: int = 0, patches=None) -> ChunkJob:
        # chunks run by the plain map run in this process: their file writes overlap the next chunk
        defer = self.map_fn is plain_map
        return ChunkJob(run, index, start, stop, self.sink, self.resume, offset, patches or {}, defer)

    # ------------------------------------------------------------------ one table

    def _table(self, name: str) -> None:
        run = self._prepare(name)
        starts = range(0, run.total_rows, self.chunk_rows)
        jobs = [self._job(run, i, s, min(s + self.chunk_rows, run.total_rows)) for i, s in enumerate(starts)]
        staged = self.plan.tables[name].staged
        results = self.map_fn(self._tracked(run_chunk, name, len(jobs), (0.0, 0.5 if staged else 1.0)), jobs)
        self._merge(name, results, final=not staged)
        if staged:
            self.staged[name] = (run, results)

    def _prepare(self, name: str) -> TableRun:
        table, tplan = self.spec.table(name), self.plan.tables[name]
        parents = {
            g.parent_table: self.kept[g.parent_table] for c in table.columns if (g := c.generator).kind == "foreign_key"
        }
        keys = {}
        n_rows = None
        if tplan.calendar is not None:
            ctx = BuildContext(self.spec, table, np.arange(0))
            n_rows = len(date_sequence(ctx, table.column(tplan.calendar).generator))
            n_rows = n_rows if self.row_cap is None else min(n_rows, self.row_cap)
        elif tplan.static_rows is not None:
            n_rows = tplan.static_rows if self.row_cap is None else self._capped(name, parents)
            n_rows = int(round(n_rows * tplan.oversample))
        if tplan.driver is not None:
            keys[tplan.driver] = self._foreign_key(name, tplan.driver, None, parents)
            n_rows = keys[tplan.driver].rows
        for fk in tplan.foreign_keys:
            if fk not in keys:
                keys[fk] = self._foreign_key(name, fk, n_rows, parents)
        return TableRun(
            self.spec,
            self.plan,
            name,
            n_rows,
            parents,
            keys,
            tuple((p, c) for p, c in self.plan.rollups.get(name, ())),
            tuple(t.name for t in self.spec.tables if t.aggregate_of == name),
        )

    def _capped(self, name: str, parents: dict[str, Retained]) -> int:
        """A fixed row count cut to the row cap, but kept within its keys' cardinality.

        Capped parents can need more children than the cap (10 departments with at least 3 doctors
        each need 30 doctors, not 20), and capped children can be too many for a capped parent.
        """
        static = self.plan.tables[name].static_rows
        table = self.spec.table(name)
        keys = [fk for fk in self.plan.tables[name].foreign_keys if fk != self.plan.tables[name].driver]
        low, high = cardinality_bounds(table, keys, parents)
        rows = max(min(static, self.row_cap), low)
        return rows if high is None else min(rows, max(high, low))

    def _foreign_key(self, name: str, fk: str, n_rows: int | None, parents: dict[str, Retained]):
        table, tplan = self.spec.table(name), self.plan.tables[name]
        gen = table.column(fk).generator
        date_first = None
        if fk in tplan.date_first:
            date_column = tplan.date_first[fk]
            date_first = (date_column, table.column(date_column).generator.after.split(".", 1)[1])
        try:
            return prepare_foreign_key(
                self.spec,
                table,
                fk,
                parents[gen.parent_table],
                n_rows=n_rows,
                driver=fk == tplan.driver,
                date_first=date_first,
                row_cap=self.row_cap,
            )
        except DataFactoryError as exc:
            raise with_path(exc, f"tables.{name}") from None

    def _tracked(self, fn, name: str, count: int, span: tuple[float, float]):
        """Report progress per chunk when chunks run here; a remote mapper reports after the map.

        The table's share moves across ``span`` as its ``count`` chunks finish.
        """
        if self.progress is None or self.map_fn is not plain_map:
            return fn
        done = [0, 0]

        def tracked(job: ChunkJob) -> ChunkResult:
            result = fn(job)
            done[0] += result.rows
            done[1] += 1
            self.progress(name, done[0], span[0] + (span[1] - span[0]) * done[1] / max(count, 1))
            return result

        return tracked

    def _merge(self, name: str, results: list[ChunkResult], final: bool) -> None:
        """Fold chunk results into the run state, in chunk order (so the state never depends on timing)."""
        results = sorted(results, key=lambda r: r.index)
        table = self.spec.table(name)
        n = sum(r.rows for r in results)
        if name not in self.kept:
            kept = Retained(n, sequences={c.name: c.generator for c in table.columns if c.generator.kind == "sequence"})
            self.kept[name] = kept
        kept = self.kept[name]
        for column in {c for r in results for c in r.kept}:
            kept.columns[column] = concat_kept([r.kept[column] for r in results])
        for result in results:
            for key, part in result.rollups.items():
                parent_n = self.kept[key[0]].n
                function = self.spec.table(key[0]).column(key[1]).generator.function
                if key not in self.rollups:  # not setdefault: that would allocate the totals for every chunk
                    self.rollups[key] = RollupTotals.empty(function, parent_n)
                self.rollups[key].add(part)
            for aggregate, part in result.aggregates.items():
                self.aggregates.setdefault(aggregate, []).append(part)
            for scenario, stats in result.scenarios.items():
                self.scenarios.setdefault(scenario, ScenarioStats()).add(stats)
        if final:
            self.out.row_counts[name] = n
            self.out.chunks[name] = len(results)
            if self.progress is not None and self.map_fn is not plain_map:
                self.progress(name, n, 1.0)

    # ------------------------------------------------------------------ staged tables

    def _finish_ready(self) -> None:
        """Finish staged tables whose rollup children are all built."""
        done = set(self.out.row_counts) | set(self.staged)
        for name in list(self.staged):
            waiting = [
                c.generator.table
                for c in self.spec.table(name).columns
                if c.generator.kind == "rollup" and c.generator.table not in done
            ]
            if not waiting:
                self._finish(name)

    def _finish(self, name: str) -> None:
        run, results = self.staged.pop(name)
        results = sorted(results, key=lambda r: r.index)
        n = sum(r.rows for r in results)
        filled = {}
        for column in self.plan.tables[name].rollup_columns:
            totals = self.rollups.get((name, column))
            function = self.spec.table(name).column(column).generator.function
            totals = totals or RollupTotals.empty(function, n)
            filled[column] = totals.result()
        jobs, offset = [], 0
        for result in results:
            patches = {c: v[offset : offset + result.rows] for c, v in filled.items()}
            jobs.append(self._job(run, result.index, 0, 0, offset, patches))
            offset += result.rows
        finished = self.map_fn(self._tracked(finish_chunk, name, len(jobs), (0.5, 1.0)), jobs)
        for column, values in filled.items():
            if column in self.plan.tables[name].retain:
                self.kept[name].columns[column] = compact(pd.Series(values))
        self._merge(name, finished, final=True)

    # ------------------------------------------------------------------ aggregates

    def _aggregate(self, name: str) -> None:
        table = self.spec.table(name)
        frame = combine_aggregate(table, self.aggregates.pop(name, []))
        ctx = BuildContext(self.spec, table, np.arange(len(frame), dtype=np.int64), plan=self.plan.tables[name])
        ctx.columns = {c: frame[c] for c in frame.columns}
        ctx.total_rows = len(frame)
        for column_name in self.plan.tables[name].column_order:
            if column_name not in ctx.columns:
                ctx.columns[column_name] = build_column(ctx, table.column(column_name))
        run = TableRun(self.spec, self.plan, name, len(frame), {}, {})
        frame = pd.DataFrame({c.name: ctx.columns[c.name] for c in table.columns})
        from tasks.engine.chunks import _emit  # one emit path for every table

        result = ChunkResult(name, 0, len(frame))
        result.kept = {c: compact(frame[c]) for c in self.plan.tables[name].retain}
        _emit(run, self._job(run, 0, 0, len(frame)), frame, result)
        self._merge(name, [result], final=True)
        if self.progress is not None and self.map_fn is plain_map:  # one piece, built here
            self.progress(name, len(frame), 1.0)
