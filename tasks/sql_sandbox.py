"""A DuckDB connection that can read only the tables it is given.

Question SQL may come from a language model, so it runs with file system, extension and
network access switched off and the configuration locked; only single SELECT statements run.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import pandas as pd
import pyarrow as pa

from schemas.errors import DataFactoryError
from schemas.spec import ChallengeSpec
from tasks.engine.types import arrow_schema, to_arrow

_LOCKED_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "threads": 2,
}


class SqlRefused(DataFactoryError):
    """The SQL is not a single read-only query, or it tried to reach outside the given tables."""


def sandbox(
    tables: Mapping[str, pa.Table | pd.DataFrame], spec: ChallengeSpec | None = None, *, threads: int = 2
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding ``tables`` (copied in), with outside access off and locked.

    Args:
        tables: name -> Arrow table or DataFrame (DataFrames are typed by ``spec`` when given).
        spec: the challenge spec, for the column types of DataFrames.
    """
    con = duckdb.connect(":memory:", config=dict(_LOCKED_CONFIG) | {"threads": threads})
    for name, data in tables.items():
        if isinstance(data, pd.DataFrame):
            data = to_arrow(data, spec.table(name)) if spec is not None else pa.Table.from_pandas(data)
        con.register("__incoming", data)
        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
        con.unregister("__incoming")
    con.execute("SET lock_configuration = true")
    return con


def empty_tables(spec: ChallengeSpec) -> dict[str, pa.Table]:
    """Zero-row tables with the spec's column types: enough to bind and run every question."""
    return {t.name: arrow_schema(t).empty_table() for t in spec.tables}


def check_read_only(sql: str) -> None:
    """Raise ``SqlRefused`` unless ``sql`` is exactly one SELECT statement."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise SqlRefused(f"expected one SELECT statement, found {len(statements)}; keep one query per question")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefused(f"only SELECT queries may run, not {statements[0].type.name}; rewrite it as a query")


def run_query(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """Run one read-only question on a sandbox connection.

    Raises:
        SqlRefused: not a single SELECT, or it touched a file, an extension or the network.
        duckdb.Error: the query is wrong (unknown column, type error ...).
    """
    check_read_only(sql)
    try:
        return con.execute(sql).df()
    except duckdb.PermissionException as exc:
        raise SqlRefused(f"the query tried to reach outside its tables: {str(exc).splitlines()[0]}") from None
