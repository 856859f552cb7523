"""SQL scripts that create a challenge's tables and load its CSVs, for PostgreSQL, MySQL and DuckDB.

Everything comes from the spec: column types, primary keys, unique keys and foreign keys, tables in
dependency order (parents first). Each script runs as is from the unzipped package folder
(``psql -f sql/postgresql.sql``, ``mysql --local-infile=1 < sql/mysql.sql``, ``duckdb < sql/duckdb.sql``)
and loads the Arrow-written CSVs (header row, ISO dates, empty field = NULL). Constraints that planted
messiness would break are left out, with a comment saying which and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from schemas.errors import SpecError
from schemas.spec import ChallengeSpec, ColumnSpec, ForeignKeyGenerator, TableSpec
from tasks.engine.types import declared_decimals

Dialect = Literal["postgresql", "mysql", "duckdb"]
DIALECTS: tuple[Dialect, ...] = ("postgresql", "mysql", "duckdb")

DECIMAL_PRECISION = 18
MYSQL_KEY_LENGTH = 191  # 4 utf8mb4 key columns still fit InnoDB's 3,072-byte index limit
MYSQL_CATEGORY_LENGTH = 255

_TYPES: dict[Dialect, dict[str, str]] = {
    "postgresql": {
        "int": "BIGINT",
        "float": "DOUBLE PRECISION",
        "string": "TEXT",
        "category": "TEXT",
        "bool": "BOOLEAN",
        "date": "DATE",
        "datetime": "TIMESTAMP",
    },
    "mysql": {
        "int": "BIGINT",
        "float": "DOUBLE",
        "string": "TEXT",
        "category": f"VARCHAR({MYSQL_CATEGORY_LENGTH})",
        "bool": "BOOLEAN",
        "date": "DATE",
        "datetime": "DATETIME",
    },
    "duckdb": {
        "int": "BIGINT",
        "float": "DOUBLE",
        "string": "VARCHAR",
        "category": "VARCHAR",
        "bool": "BOOLEAN",
        "date": "DATE",
        "datetime": "TIMESTAMP",
    },
}
_TEXT_TYPE: dict[Dialect, str] = {"postgresql": "TEXT", "mysql": "TEXT", "duckdb": "VARCHAR"}

_MESS_ON_VALUES = {"casing", "whitespace", "typos", "date_formats", "outliers"}


# --------------------------------------------------------------------------- constraints and relaxations


@dataclass
class Relaxations:
    """Constraints left out because planted messiness breaks them; each with the reason shown in the SQL."""

    no_keys: dict[str, str] = field(default_factory=dict)  # table -> reason (no PK / UNIQUE)
    no_foreign_key: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> reason
    as_text: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> reason


def relaxations(spec: ChallengeSpec) -> Relaxations:
    """Which keys and types the spec's messiness rules make impossible to enforce on the raw data."""
    out = Relaxations()
    key_columns = {(t.name, c) for t in spec.tables for c in _key_columns(t)}
    referenced = {(r.parent_table, r.parent_column) for r in spec.relationships}
    foreign = {(r.child_table, r.child_column) for r in spec.relationships}
    for rule in spec.messiness:
        if rule.kind == "duplicates":
            out.no_keys[rule.table] = "the raw data may repeat rows; remove duplicates, then add the key"
            continue
        target = (rule.table, rule.column or "")
        if rule.kind == "date_formats":
            out.as_text[target] = "dates come in mixed formats; loaded as text, convert after cleaning"
        if target in key_columns and (rule.kind in _MESS_ON_VALUES or rule.kind == "missing"):
            out.no_keys[rule.table] = f"raw values of key column '{rule.column}' need cleaning first"
        if target in foreign and rule.kind in _MESS_ON_VALUES:
            out.no_foreign_key[target] = "raw values need cleaning before they match the parent key"
        if target in referenced and rule.kind in _MESS_ON_VALUES:
            for r in spec.relationships:
                if (r.parent_table, r.parent_column) == target:
                    out.no_foreign_key[(r.child_table, r.child_column)] = (
                        f"raw values of {r.parent_table}.{r.parent_column} need cleaning first"
                    )
    for r in spec.relationships:  # a parent without an enforced key cannot be referenced
        if r.parent_table in out.no_keys:
            out.no_foreign_key.setdefault(
                (r.child_table, r.child_column), f"{r.parent_table} has no enforced key in the raw data"
            )
    return out


def _key_columns(table: TableSpec) -> set[str]:
    keys = set(table.primary_key) | {c.name for c in table.columns if c.unique}
    for group in table.unique_together:
        keys |= set(group)
    return keys


def table_order(spec: ChallengeSpec) -> list[str]:
    """Table names with every parent before its children (spec order where the graph allows).

    Raises:
        SpecError: the foreign keys form a cycle (the spec validation normally rejects it first).
    """
    parents = {t.name: set() for t in spec.tables}
    for r in spec.relationships:
        if r.parent_table != r.child_table and r.parent_table in parents:
            parents[r.child_table].add(r.parent_table)
    order: list[str] = []
    remaining = [t.name for t in spec.tables]
    while remaining:
        ready = [name for name in remaining if parents[name] <= set(order)]
        if not ready:
            raise SpecError(f"foreign keys form a cycle between tables {', '.join(remaining)}; break one of them")
        order.append(ready[0])
        remaining.remove(ready[0])
    return order


# --------------------------------------------------------------------------- identifiers and types


def quote_identifier(name: str, dialect: Dialect) -> str:
    """``name`` quoted for ``dialect`` (reserved words such as ``order`` stay usable).

    Raises:
        SpecError: the name holds characters no identifier may hold (NUL, line breaks).
    """
    if not name or re.search(r"[\x00-\x1f]", name):
        raise SpecError(f"identifier {name!r} is empty or holds control characters; use a snake_case name")
    if dialect == "mysql":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def quote_string(value: str, dialect: Dialect) -> str:
    """A SQL string literal (``'it''s'``); MySQL also escapes backslashes."""
    if dialect == "mysql":
        value = value.replace("\\", "\\\\")
    return "'" + value.replace("'", "''") + "'"


def column_type(table: TableSpec, column: ColumnSpec, dialect: Dialect, relaxed: Relaxations | None = None) -> str:
    """The SQL type of one column in ``dialect``."""
    if relaxed and (table.name, column.name) in relaxed.as_text:
        return _TEXT_TYPE[dialect]
    if column.type == "decimal":
        return f"{'NUMERIC' if dialect == 'postgresql' else 'DECIMAL'}({DECIMAL_PRECISION},{declared_decimals(column)})"
    if dialect == "mysql" and column.type in ("string", "category") and column.name in _indexed_columns(table):
        return f"VARCHAR({MYSQL_KEY_LENGTH})"  # MySQL cannot index TEXT without a prefix length
    return _TYPES[dialect][column.type]


def _indexed_columns(table: TableSpec) -> set[str]:
    return _key_columns(table) | {c.name for c in table.columns if isinstance(c.generator, ForeignKeyGenerator)}


def _referenced_columns(spec: ChallengeSpec) -> set[tuple[str, str]]:
    return {(r.parent_table, r.parent_column) for r in spec.relationships}


# --------------------------------------------------------------------------- statements


def create_table_sql(spec: ChallengeSpec, table: TableSpec, dialect: Dialect, relaxed: Relaxations) -> str:
    """``CREATE TABLE`` with types, primary key, unique keys and foreign keys for one table."""
    q = lambda name: quote_identifier(name, dialect)  # noqa: E731
    lines = [f"  {q(c.name)} {column_type(table, c, dialect, relaxed)}" for c in table.columns]
    notes: list[str] = []
    if table.name in relaxed.no_keys:
        notes.append(f"-- {table.name}: primary and unique keys not enforced: {relaxed.no_keys[table.name]}")
    else:
        if table.primary_key:
            lines.append(f"  PRIMARY KEY ({', '.join(q(c) for c in table.primary_key)})")
        uniques = [[c.name] for c in table.columns if c.unique and [c.name] != table.primary_key]
        uniques += [g for g in table.unique_together if g and g != table.primary_key]
        # a referenced column needs a unique key in every dialect
        for parent_table, parent_column in sorted(_referenced_columns(spec)):
            if parent_table == table.name and [parent_column] != table.primary_key and [parent_column] not in uniques:
                uniques.append([parent_column])
        for group in uniques:
            lines.append(f"  UNIQUE ({', '.join(q(c) for c in group)})")
    for r in spec.relationships:
        if r.child_table != table.name:
            continue
        reason = relaxed.no_foreign_key.get((r.child_table, r.child_column))
        if reason:
            notes.append(f"-- {table.name}.{r.child_column}: foreign key to {r.parent_table} not enforced: {reason}")
            continue
        lines.append(f"  FOREIGN KEY ({q(r.child_column)}) REFERENCES {q(r.parent_table)} ({q(r.parent_column)})")
    comment = f"-- {table.name}: {_one_line(table.description)}\n" if table.description else ""
    notes_text = "".join(f"{n}\n" for n in notes)
    return f"{comment}{notes_text}CREATE TABLE {q(table.name)} (\n" + ",\n".join(lines) + "\n);"


def load_sql(table: TableSpec, dialect: Dialect, csv_dir: str = ".") -> str:
    """The statement that loads ``<csv_dir>/<table>.csv`` (header row, empty field = NULL) into the table."""
    path = f"{csv_dir.rstrip('/') or '.'}/{table.name}.csv"
    q = lambda name: quote_identifier(name, dialect)  # noqa: E731
    columns = ", ".join(q(c.name) for c in table.columns)
    match dialect:
        case "postgresql":
            # \copy reads the file on the client, relative to the folder psql runs in; it must fit on one line
            return (
                f"\\copy {q(table.name)} ({columns}) FROM {quote_string(path, dialect)} WITH (FORMAT csv, HEADER true)"
            )
        case "duckdb":
            return f"COPY {q(table.name)} ({columns}) FROM {quote_string(path, dialect)} (FORMAT csv, HEADER true);"
        case "mysql":
            variables = ", ".join(f"@{_mysql_var(i)}" for i in range(len(table.columns)))
            sets = ",\n  ".join(
                f"{q(c.name)} = {_mysql_value(c, f'@{_mysql_var(i)}')}" for i, c in enumerate(table.columns)
            )
            return (
                f"LOAD DATA LOCAL INFILE {quote_string(path, dialect)}\n"
                f"INTO TABLE {q(table.name)}\n"
                "CHARACTER SET utf8mb4\n"
                "FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY ''\n"
                "LINES TERMINATED BY '\\n'\n"
                "IGNORE 1 LINES\n"
                f"({variables})\n"
                f"SET\n  {sets};"
            )
    raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")


def mysql_load_check(table: TableSpec) -> str:
    """A statement that stops the script when the LOAD DATA before it left warnings.

    ``LOAD DATA LOCAL`` turns what would be errors (a row breaking a key, a value that does not fit
    its column) into warnings: the row is skipped or the value changed, and the script goes on. MySQL
    has no SIGNAL outside stored programs, so a scalar subquery of two rows raises the error instead.
    """
    name = quote_identifier(table.name, "mysql")
    loaded = quote_string(f"{table.name}: loaded", "mysql")
    return (
        f"-- Stops the script here (error 1242, 'Subquery returns more than 1 row') when MySQL skipped or changed\n"
        f"-- rows of {table.name}.csv; run the LOAD DATA above by itself, then SHOW WARNINGS to see them.\n"
        f"SELECT IF(@@warning_count = 0, {loaded}, (SELECT 1 UNION SELECT 2)) AS {name};"
    )


def _mysql_var(index: int) -> str:
    return f"c{index}"


def _mysql_value(column: ColumnSpec, var: str) -> str:
    """MySQL reads an empty CSV field as '' (not NULL) and 'true' as 0: convert explicitly."""
    if column.type == "bool":
        return f"CASE {var} WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE NULL END"
    return f"NULLIF({var}, '')"


def schema_sql(spec: ChallengeSpec, dialect: Dialect, csv_dir: str = ".") -> str:
    """A complete script for ``dialect``: drop old tables, create every table, load every CSV.

    Args:
        spec: the challenge spec.
        dialect: ``postgresql``, ``mysql`` or ``duckdb``.
        csv_dir: folder of the CSVs as the SQL client will see it; ``.`` = the folder the client runs in.

    Returns:
        The script text, ending in a newline.

    Raises:
        ValueError: an unknown dialect.
        SpecError: the foreign keys form a cycle, or a name cannot be an identifier.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    order = table_order(spec)
    relaxed = relaxations(spec)
    tables = [spec.table(name) for name in order]
    parts = [_header(spec, dialect)]
    parts.append("\n".join(_drop(name, dialect) for name in reversed(order)))
    parts.extend(create_table_sql(spec, t, dialect, relaxed) for t in tables)
    for t in tables:
        parts.append(load_sql(t, dialect, csv_dir))
        if dialect == "mysql":
            parts.append(mysql_load_check(t))
    parts.append(_footer(dialect))
    return "\n\n".join(p for p in parts if p) + "\n"


def _drop(name: str, dialect: Dialect) -> str:
    return f"DROP TABLE IF EXISTS {quote_identifier(name, dialect)};"


def _header(spec: ChallengeSpec, dialect: Dialect) -> str:
    title = _one_line(spec.challenge.title)
    lines = [f"-- {title} ({spec.challenge.id}): tables, keys and data load for {_DIALECT_NAMES[dialect]}."]
    lines += [f"-- {line}" for line in _USAGE[dialect]]
    lines.append("-- Existing tables with the same names are dropped first.")
    match dialect:
        case "postgresql":
            lines += ["\\set ON_ERROR_STOP on", "SET client_encoding = 'UTF8';", "BEGIN;"]
        case "mysql":
            database = quote_identifier(mysql_database_name(spec), "mysql")
            lines += [
                "SET NAMES utf8mb4;",
                f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8mb4;",
                f"USE {database};",
            ]
        case "duckdb":
            lines += ["BEGIN TRANSACTION;"]
    return "\n".join(lines)


def _footer(dialect: Dialect) -> str:
    return {"postgresql": "COMMIT;", "duckdb": "COMMIT;", "mysql": ""}[dialect]


def mysql_database_name(spec: ChallengeSpec) -> str:
    """The MySQL database the script creates: the challenge id with ``-`` as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", spec.challenge.id.lower())[:64] or "challenge"


_DIALECT_NAMES: dict[Dialect, str] = {"postgresql": "PostgreSQL", "mysql": "MySQL 8", "duckdb": "DuckDB"}
_USAGE: dict[Dialect, tuple[str, ...]] = {
    "postgresql": (
        "Run from the unzipped folder (the CSVs are read from there by psql's client-side \\copy):",
        "  createdb challenge && psql -d challenge -f sql/postgresql.sql",
    ),
    "mysql": (
        "Run from the unzipped folder; the server needs local_infile=ON (SET GLOBAL local_infile = 1):",
        "  mysql --local-infile=1 -u root -p < sql/mysql.sql",
    ),
    "duckdb": (
        "Run from the unzipped folder:",
        "  duckdb challenge.duckdb < sql/duckdb.sql",
    ),
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def iter_statements(script: str) -> Iterator[str]:
    """The SQL statements of a script without comments and psql meta-commands (for parsing checks)."""
    buffer: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--") or stripped.startswith("\\"):
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            yield "\n".join(buffer)
            buffer = []
    if buffer:
        yield "\n".join(buffer)
