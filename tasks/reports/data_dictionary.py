"""The data dictionary (``data_dictionary.txt``): every table and column, from the spec and the CSVs.

Per table: role, rows, description, keys. Per column: type (logical and per SQL dialect), unit,
description, keys, allowed values (declared, else observed) or range (declared and observed), and
the share of empty values. Observed facts come from the shipped data through DuckDB (``profile_csvs``):
the Parquet twin of a CSV when one is given and no messiness was planted in that table (same values,
read columnar and much faster), else the CSV itself. The learner's copy never mentions planted messiness.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from schemas.spec import (
    CategoricalGenerator,
    ChallengeSpec,
    ColumnSpec,
    ConditionalGenerator,
    DateGenerator,
    DateSequenceGenerator,
    NumericGenerator,
    SequenceGenerator,
    TableSpec,
)
from tasks.ddl import column_type, quote_identifier, quote_string, relaxations
from tasks.reports.profiles import parquet_source

MAX_LISTED_VALUES = 25
WIDTH = 100


@dataclass
class ColumnProfile:
    """What the data shows for one column."""

    non_null: int = 0
    minimum: Any = None
    maximum: Any = None
    distinct: int | None = None
    values: list[Any] | None = None  # every distinct value, when there are few


@dataclass
class TableProfile:
    rows: int
    columns: dict[str, ColumnProfile] = field(default_factory=dict)


def profile_csvs(
    spec: ChallengeSpec, csv_files: dict[str, Path], parquet: dict[str, Path] | None = None
) -> dict[str, TableProfile]:
    """Row counts, ranges and (few) distinct values of every table's CSV, read with the spec's types.

    Args:
        spec: the challenge spec.
        csv_files: table name -> CSV written by the engine (header row, empty field = NULL).
        parquet: table name -> the Parquet file (or folder of parts) the CSV was written from. Used
            instead of the CSV for tables without planted messiness: the values are the same, cast
            to the same SQL types, and reading them does not parse text.

    Returns:
        Table name -> profile, for every table in ``csv_files``.
    """
    relaxed = relaxations(spec)
    messy = {rule.table for rule in spec.messiness}
    parquet = parquet or {}
    profiles: dict[str, TableProfile] = {}
    with duckdb.connect() as con:
        for table in spec.tables:
            if table.name in csv_files:
                twin = parquet.get(table.name) if table.name not in messy else None
                profiles[table.name] = _profile_table(con, table, csv_files[table.name], relaxed, twin)
    return profiles


def _profile_table(
    con: duckdb.DuckDBPyConnection, table: TableSpec, path: Path, relaxed, parquet: Path | None = None
) -> TableProfile:
    types = {c.name: column_type(table, c, "duckdb", relaxed) for c in table.columns}
    if parquet is not None:
        casts = ", ".join(
            f"CAST({quote_identifier(n, 'duckdb')} AS {t}) AS {quote_identifier(n, 'duckdb')}" for n, t in types.items()
        )
        source = f"(SELECT {casts} FROM {parquet_source(parquet)})"
    else:
        columns_arg = (
            "{" + ", ".join(f"{quote_string(n, 'duckdb')}: {quote_string(t, 'duckdb')}" for n, t in types.items()) + "}"
        )
        source = (
            f"read_csv({quote_string(str(path), 'duckdb')}, header = true, auto_detect = false, "
            f"columns = {columns_arg})"
        )
    selects = ["count(*)"]
    for c in table.columns:
        q = quote_identifier(c.name, "duckdb")
        selects.append(f"count({q})")
        if _listed(c, types[c.name]):
            selects += [
                f"count(DISTINCT {q})",
                f"CASE WHEN count(DISTINCT {q}) <= {MAX_LISTED_VALUES} THEN list(DISTINCT {q} ORDER BY {q}) END",
            ]
        elif types[c.name] in ("VARCHAR", "TEXT"):
            selects += ["NULL", "NULL"]  # free text: neither a range nor a short list
        else:
            selects += [f"min({q})", f"max({q})"]
    row = con.execute(f"SELECT {', '.join(selects)} FROM {source}").fetchone()
    profile = TableProfile(rows=int(row[0]))
    i = 1
    for c in table.columns:
        non_null, a, b = row[i], row[i + 1], row[i + 2]
        i += 3
        if _listed(c, types[c.name]):
            profile.columns[c.name] = ColumnProfile(int(non_null), distinct=int(a), values=b)
        else:
            profile.columns[c.name] = ColumnProfile(int(non_null), minimum=a, maximum=b)
    return profile


def _listed(column: ColumnSpec, sql_type: str) -> bool:
    """Columns whose distinct values are worth listing: categories and booleans."""
    return column.type in ("category", "bool") and sql_type in ("VARCHAR", "BOOLEAN")


def render_data_dictionary(
    spec: ChallengeSpec,
    profiles: dict[str, TableProfile] | None = None,
    *,
    learner: bool = False,
) -> str:
    """The text of ``data_dictionary.txt``.

    Args:
        spec: the challenge spec.
        profiles: from ``profile_csvs``; without it only declared facts are shown.
        learner: the learner's copy (no planted-messiness notes).

    Returns:
        Plain text, ending in a newline.
    """
    profiles = profiles or {}
    c = spec.challenge
    lines = [
        f"DATA DICTIONARY: {c.title}",
        f"{c.company.name} | {c.time_window.start} to {c.time_window.end} | amounts in {c.currency}",
        "",
        "Files: one CSV per table, UTF-8, comma-separated, header row, dates as YYYY-MM-DD,",
        "date-times as YYYY-MM-DD HH:MM:SS, an empty field is a missing value (NULL).",
        "Types: int, float, decimal, string, bool (true/false), date, datetime, category (a string",
        "from a short list of values). SQL types per database are in sql/*.sql.",
        "",
        "Relationships (child column -> parent key):",
    ]
    relationships = spec.relationships
    if relationships:
        for r in relationships:
            lines.append(f"  {r.child_table}.{r.child_column} -> {r.parent_table}.{r.parent_column}{_cardinality(r)}")
    else:
        lines.append("  none")
    for table in spec.tables:
        lines += ["", "=" * WIDTH, *_table_lines(spec, table, profiles.get(table.name))]
    if not learner and spec.messiness:
        lines += ["", "=" * WIDTH, "PLANTED DATA ISSUES (instructor only; details in instructor/issue_log.csv)"]
        for rule in spec.messiness:
            where = f"{rule.table}.{rule.column}" if rule.column else rule.table
            lines.append(f"  - {rule.kind} in {where}, about {rule.rate:.0%} of rows")
    return "\n".join(lines) + "\n"


def _cardinality(r) -> str:
    if r.min_children is None and r.max_children is None:
        return ""
    low = r.min_children if r.min_children is not None else 0
    high = r.max_children if r.max_children is not None else "many"
    return f"  ({low} to {high} per {r.parent_table} row)"


def _table_lines(spec: ChallengeSpec, table: TableSpec, profile: TableProfile | None) -> list[str]:
    rows = f", {profile.rows:,} rows" if profile else ""
    lines = [f"TABLE {table.name} ({table.role}{rows})"]
    lines += _wrap(table.description, "  ")
    if table.primary_key:
        lines.append(f"  Primary key: {', '.join(table.primary_key)}")
    for group in table.unique_together:
        lines.append(f"  Unique together: {', '.join(group)}")
    if table.aggregate_of:
        lines.append(f"  Pre-aggregated from: {table.aggregate_of}")
    for column in table.columns:
        lines += [
            "",
            *_column_lines(spec, table, column, profile.columns.get(column.name) if profile else None, profile),
        ]
    return lines


def _column_lines(
    spec: ChallengeSpec,
    table: TableSpec,
    column: ColumnSpec,
    observed: ColumnProfile | None,
    profile: TableProfile | None,
) -> list[str]:
    sql_types = " / ".join(
        f"{name} {column_type(table, column, dialect)}"
        for name, dialect in (("PostgreSQL", "postgresql"), ("MySQL", "mysql"), ("DuckDB", "duckdb"))
    )
    lines = [f"  {column.name}", f"    Type: {column.type} ({sql_types})"]
    if column.unit:
        lines.append(f"    Unit: {column.unit}")
    lines += _wrap(column.description or "(no description)", "    Description: ", "                 ")
    keys = _keys(spec, table, column)
    if keys:
        lines.append(f"    Keys: {'; '.join(keys)}")
    declared = allowed_values(column)
    if declared is not None:
        lines += _wrap(", ".join(str(v) for v in declared), "    Allowed values: ", "                    ")
    elif observed is not None and observed.values is not None and column.type in ("category", "bool"):
        lines += _wrap(
            ", ".join(str(v) for v in observed.values), "    Values in the data: ", "                        "
        )
    elif observed is not None and observed.distinct is not None and column.type == "category":
        lines.append(f"    Distinct values in the data: {observed.distinct:,}")
    declared_range = declared_range_text(spec, column)
    if declared_range:
        lines.append(f"    Declared range: {declared_range}")
    if observed is not None and observed.minimum is not None:
        lines.append(f"    Range in the data: {_fmt(observed.minimum)} to {_fmt(observed.maximum)}")
    if isinstance(column.generator, SequenceGenerator) and column.generator.pattern:
        lines.append(f"    Format: {column.generator.pattern} (# = digit)")
    if profile is not None and observed is not None and profile.rows:
        empty = profile.rows - observed.non_null
        lines.append(f"    Empty: {empty:,} of {profile.rows:,} rows ({empty / profile.rows:.1%})")
    elif column.nullable:
        lines.append(f"    Empty: about {column.nullable:.0%} of rows")
    return lines


def _keys(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec) -> list[str]:
    keys = []
    if column.name in table.primary_key:
        keys.append("primary key" if len(table.primary_key) == 1 else "part of the primary key")
    if column.unique and table.primary_key != [column.name]:
        keys.append("unique")
    for r in spec.relationships:
        if r.child_table == table.name and r.child_column == column.name:
            keys.append(f"foreign key -> {r.parent_table}.{r.parent_column}")
    referenced_by = [
        f"{r.child_table}.{r.child_column}"
        for r in spec.relationships
        if r.parent_table == table.name and r.parent_column == column.name
    ]
    if referenced_by:
        keys.append(f"referenced by {', '.join(referenced_by)}")
    return keys


def allowed_values(column: ColumnSpec) -> list[Any] | None:
    """The values a categorical column may take, when the spec lists them (also through a conditional)."""
    gen = column.generator
    if isinstance(gen, CategoricalGenerator):
        return list(dict.fromkeys(gen.values))
    if isinstance(gen, ConditionalGenerator):
        branches = [*gen.cases.values(), *([gen.default] if gen.default else [])]
        if all(isinstance(b, CategoricalGenerator) for b in branches):
            return list(dict.fromkeys(v for b in branches for v in b.values))
    return None


def declared_range_text(spec: ChallengeSpec, column: ColumnSpec) -> str | None:
    """The range the spec declares for a numeric or date column (``5 to 2500``), or None."""
    gen = column.generator
    if isinstance(gen, NumericGenerator):
        low = gen.min if gen.min is not None else gen.low if gen.distribution in ("uniform", "triangular") else None
        high = gen.max if gen.max is not None else gen.high if gen.distribution in ("uniform", "triangular") else None
        if low is None and high is None:
            return None
        return f"{_fmt(low) if low is not None else 'no minimum'} to {_fmt(high) if high is not None else 'no maximum'}"
    if isinstance(gen, DateGenerator | DateSequenceGenerator):
        start = gen.start or spec.challenge.time_window.start
        end = gen.end or spec.challenge.time_window.end
        return f"{start} to {end}"
    return None


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 1 or value == 0 else f"{value:.4g}"
    return str(value)


def _wrap(text: str, first: str, rest: str | None = None) -> list[str]:
    text = " ".join(text.split())
    if not text:
        return []
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest if rest is not None else first)
