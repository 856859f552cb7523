"""Profile every table with DuckDB aggregate queries over its Parquet file; take small samples.

Contract: only aggregates leave DuckDB (counts, ranges, top values, 20-bin histograms, monthly
counts), so the cost of a report does not grow with the row count beyond one scan per query.
The SQL is built here from the spec's names (quoted), never from outside text.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import duckdb
import pandas as pd

from schemas.errors import InputError
from schemas.profiles import ColumnProfile, DatasetProfile, HistogramBin, PeriodCount, TableProfile, ValueCount
from schemas.spec import ChallengeSpec, ColumnSpec, TableSpec

HISTOGRAM_BINS = 20
TOP_VALUES = 8
# above this many distinct values a column is an identifier or free text: top values say nothing
MAX_DISTINCT_FOR_TOP = 1_000
NUMERIC_TYPES = {"int", "float", "decimal"}
DATE_TYPES = {"date", "datetime"}


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def parquet_source(path: Path) -> str:
    """A ``read_parquet`` call for a file or a folder of parts."""
    path = Path(path)
    if path.is_dir():
        target = str(path / "*.parquet")
    elif path.is_file():
        target = str(path)
    else:
        raise InputError(f"Parquet file {path} does not exist; generate the dataset first (phase 4)")
    return "read_parquet('" + target.replace("'", "''") + "')"


def _connect(spec: ChallengeSpec, parquet: dict[str, Path]) -> duckdb.DuckDBPyConnection:
    missing = [t.name for t in spec.tables if t.name not in parquet]
    if missing:
        raise InputError(
            f"no Parquet file for table(s) {', '.join(missing)}; pass one path per spec table "
            "(as returned by generate_to_files(...).parquet)"
        )
    con = duckdb.connect(":memory:", config={"threads": 2})
    for table in spec.tables:
        con.execute(f"CREATE VIEW {_ident(table.name)} AS SELECT * FROM {parquet_source(parquet[table.name])}")
    return con


def profile_tables(spec: ChallengeSpec, parquet: dict[str, Path]) -> DatasetProfile:
    """Profile every spec table from its Parquet file with aggregate queries.

    Args:
        spec: the challenge spec (gives types, units and descriptions).
        parquet: table name -> Parquet file (or folder of Parquet parts).

    Returns:
        One ``TableProfile`` per spec table, in spec order.

    Raises:
        InputError: a table has no Parquet file, or a spec column is missing from it.
    """
    started = time.perf_counter()
    con = _connect(spec, parquet)
    try:
        tables = [_profile_table(con, table) for table in spec.tables]
    finally:
        con.close()
    return DatasetProfile(tables=tables, seconds=round(time.perf_counter() - started, 3))


def _profile_table(con: duckdb.DuckDBPyConnection, table: TableSpec) -> TableProfile:
    present = {row[0] for row in con.execute(f"DESCRIBE {_ident(table.name)}").fetchall()}
    absent = [c.name for c in table.columns if c.name not in present]
    if absent:
        raise InputError(
            f"{table.name}: column(s) {', '.join(absent)} are in the spec but not in the Parquet file; "
            "regenerate the dataset from this spec"
        )
    selects = ["COUNT(*)"]
    for column in table.columns:
        selects += _stat_expressions(column)
    stats = con.execute(f"SELECT {', '.join(selects)} FROM {_ident(table.name)}").fetchone()
    rows = int(stats[0])
    position = 1
    columns = []
    for column in table.columns:
        width = len(_stat_expressions(column))
        values = stats[position : position + width]
        position += width
        columns.append(_column_profile(con, table.name, column, rows, values))
    return TableProfile(name=table.name, role=table.role, description=table.description, rows=rows, columns=columns)


def _stat_expressions(column: ColumnSpec) -> list[str]:
    """Aggregates computed in the one scan per table: non-null, distinct, and ranges by type."""
    col = _ident(column.name)
    # exact, not HyperLogLog: an estimate printed as a count (805 ids under a parent of 800) reads as a defect
    exprs = [f"COUNT({col})", f"COUNT(DISTINCT {col})"]
    if column.type in NUMERIC_TYPES:
        exprs += [f"MIN({col})", f"MAX({col})", f"AVG({col})", f"STDDEV_SAMP({col})"]
    elif column.type in DATE_TYPES:
        exprs += [f"MIN({col})", f"MAX({col})"]
    return exprs


def _column_profile(
    con: duckdb.DuckDBPyConnection, table: str, column: ColumnSpec, rows: int, values: tuple
) -> ColumnProfile:
    non_null, distinct = int(values[0]), int(values[1])
    profile = ColumnProfile(
        name=column.name,
        type=column.type,
        unit=column.unit,
        description=column.description,
        non_null=non_null,
        nulls=rows - non_null,
        distinct=distinct,
    )
    if column.type in NUMERIC_TYPES:
        low, high, mean, std = values[2:6]
        profile.min, profile.max = _number(low), _number(high)
        profile.mean = _number(mean)
        profile.std = _number(std)
        if low is not None and high is not None:
            profile.histogram = _histogram(con, table, column.name, float(low), float(high))
    elif column.type in DATE_TYPES:
        low, high = values[2:4]
        profile.min = None if low is None else pd.Timestamp(low).isoformat()
        profile.max = None if high is None else pd.Timestamp(high).isoformat()
        if low is not None:
            profile.by_month = _by_month(con, table, column.name)
    # top values for categories and small integer codes; never for keys, where every value is "most common"
    small_codes = column.type == "int" and distinct <= 20
    wanted = (column.type not in NUMERIC_TYPES | DATE_TYPES or small_codes) and not column.unique
    if wanted and 0 < distinct <= MAX_DISTINCT_FOR_TOP:
        profile.top_values = _top_values(con, table, column.name)
    return profile


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _histogram(con: duckdb.DuckDBPyConnection, table: str, column: str, low: float, high: float) -> list[HistogramBin]:
    if high <= low:
        count = con.execute(f"SELECT COUNT({_ident(column)}) FROM {_ident(table)}").fetchone()[0]
        return [HistogramBin(low=low, high=high, count=int(count))]
    width = (high - low) / HISTOGRAM_BINS
    col = _ident(column)
    result = con.execute(
        f"SELECT LEAST(CAST(FLOOR(({col} - ?) / ?) AS INTEGER), {HISTOGRAM_BINS - 1}) AS b, COUNT(*) "
        f"FROM {_ident(table)} WHERE {col} IS NOT NULL GROUP BY b ORDER BY b",
        [low, width],
    ).fetchall()
    counts = dict(result)
    return [
        HistogramBin(low=low + i * width, high=low + (i + 1) * width, count=int(counts.get(i, 0)))
        for i in range(HISTOGRAM_BINS)
    ]


def _by_month(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[PeriodCount]:
    col = _ident(column)
    # group on the truncated date and format the few groups here: formatting every row costs more than the scan
    result = con.execute(
        f"SELECT CAST(DATE_TRUNC('month', {col}) AS DATE) AS m, COUNT(*) FROM {_ident(table)} "
        f"WHERE {col} IS NOT NULL GROUP BY m ORDER BY m"
    ).fetchall()
    return [PeriodCount(period=month.strftime("%Y-%m"), count=int(count)) for month, count in result]


def _top_values(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[ValueCount]:
    col = _ident(column)
    result = con.execute(
        f"SELECT CAST({col} AS VARCHAR) AS v, COUNT(*) AS n FROM {_ident(table)} WHERE {col} IS NOT NULL "
        f"GROUP BY v ORDER BY n DESC, v LIMIT {TOP_VALUES}"
    ).fetchall()
    return [ValueCount(value=str(value), count=int(count)) for value, count in result]


def sample_tables(spec: ChallengeSpec, parquet: dict[str, Path], rows: int = 20) -> dict[str, pd.DataFrame]:
    """The first ``rows`` rows of every table, read without scanning the whole file.

    Args:
        spec: the challenge spec (gives the tables and their column order).
        parquet: table name -> Parquet file (or folder of parts).
        rows: rows per table (1 to 1,000).

    Raises:
        InputError: ``rows`` is out of range or a table has no Parquet file.
    """
    if not 1 <= rows <= 1_000:
        raise InputError(f"sample rows must be between 1 and 1,000, got {rows}; samples are for reading, not analysis")
    con = _connect(spec, parquet)
    try:
        return {
            table.name: con.execute(
                f"SELECT {', '.join(_ident(c) for c in table.column_names)} FROM {_ident(table.name)} LIMIT {rows}"
            ).df()
            for table in spec.tables
        }
    finally:
        con.close()
