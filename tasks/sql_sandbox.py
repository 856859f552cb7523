"""A DuckDB connection that can read only the tables it is given, and queries that run under limits.

Question SQL may come from a language model, so it runs with file system, extension and network
access switched off, no temp directory (so DuckDB allows no directory at all), no introspection that
reveals paths or settings, and the configuration locked; only single SELECT statements run. Every
question runs under ``SqlLimits`` (``DATAFACTORY_SQL_*`` settings): a wall-clock limit (a timer
interrupts the connection), a memory limit and a thread count per sandbox, and a cap on the rows a
result may have; a query over a limit raises ``SqlLimitExceeded`` naming the question and the setting.
``interrupt_running`` stops every query in flight (the CLI calls it on Ctrl-C and SIGTERM).
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import duckdb
import pandas as pd
import pyarrow as pa

from schemas.errors import DataFactoryError
from schemas.spec import ChallengeSpec
from tasks.engine.types import arrow_schema, to_arrow

# order matters: DuckDB refuses to change temp_directory once external access is off, so the
# connection opens with the bounds and outside access is switched off right after (see ``sandbox``)
_CONNECT_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    # no temp directory: DuckDB would add it to allowed_directories (``<cwd>/.tmp/`` readable by queries)
    "temp_directory": "",
}

# table functions a question may call; every other one reads files, settings or the catalogue
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {"range", "generate_series", "unnest", "repeat", "histogram", "json_each", "json_tree"}
)
# scalar functions that reveal the configuration (paths among it)
REFUSED_FUNCTIONS = frozenset({"current_setting"})
# built-in views that reveal settings or the databases' paths; information_schema is not here (its
# views name only the given tables, and its names are common words)
_REFUSED_VIEW_PREFIXES = ("duckdb_", "pragma_", "pg_", "sqlite_")


class SqlRefused(DataFactoryError):
    """The SQL is not a single read-only query, tried to reach outside the given tables, or broke a limit."""


class SqlLimitExceeded(SqlRefused):
    """The query ran too long, needed too much memory or returned too many rows."""


@dataclass(frozen=True)
class SqlLimits:
    """Bounds of one sandbox and of every question run on it."""

    timeout_seconds: float = 30.0
    memory_limit: str = "40%"
    threads: int = 2
    max_rows: int = 1_000_000

    @classmethod
    def from_settings(cls, settings=None) -> SqlLimits:
        """The ``DATAFACTORY_SQL_*`` settings (read from the environment when ``settings`` is None)."""
        if settings is None:
            from tasks.settings import get_settings

            settings = get_settings()
        return cls(
            timeout_seconds=settings.sql_timeout_seconds,
            memory_limit=settings.sql_memory_limit,
            threads=settings.sql_threads,
            max_rows=settings.sql_max_rows,
        )


def sandbox(
    tables: Mapping[str, pa.Table | pd.DataFrame],
    spec: ChallengeSpec | None = None,
    *,
    threads: int | None = None,
    limits: SqlLimits | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB holding ``tables`` (copied in), with outside access off and locked.

    Args:
        tables: name -> Arrow table or DataFrame (DataFrames are typed by ``spec`` when given).
        spec: the challenge spec, for the column types of DataFrames.
        threads: DuckDB threads (default ``limits.threads``); 1 gives a reproducible order of ties.
        limits: memory and thread bounds; ``DATAFACTORY_SQL_*`` settings when omitted.

    Raises:
        SqlLimitExceeded: the tables do not fit in the memory limit.
        InputError: the memory limit setting is not a size DuckDB understands.
    """
    limits = limits or SqlLimits.from_settings()
    config = dict(_CONNECT_CONFIG) | {"threads": threads or limits.threads}
    try:
        con = duckdb.connect(":memory:", config=config | {"memory_limit": limits.memory_limit})
    except duckdb.Error as exc:
        from schemas.errors import InputError

        raise InputError(
            f"DATAFACTORY_SQL_MEMORY_LIMIT={limits.memory_limit!r} is not a memory size DuckDB accepts "
            f"({str(exc).splitlines()[0]}); use a size such as '4GB' or a share of RAM such as '40%'"
        ) from None
    con.execute("SET enable_external_access = false")
    _check_no_directories(con)
    try:
        for name, data in tables.items():
            if isinstance(data, pd.DataFrame):
                data = to_arrow(data, spec.table(name)) if spec is not None else pa.Table.from_pandas(data)
            con.register("__incoming", _microsecond_times(data))
            try:
                con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM __incoming')
            except duckdb.OutOfMemoryException:
                con.close()
                raise SqlLimitExceeded(
                    f"table {name} ({len(data):,} rows) does not fit in the SQL sandbox's memory limit "
                    f"({limits.memory_limit}); raise DATAFACTORY_SQL_MEMORY_LIMIT (e.g. '80%') or generate fewer rows"
                ) from None
            con.unregister("__incoming")
    except BaseException:
        con.close()
        raise
    con.execute("SET lock_configuration = true")
    return con


def _microsecond_times(data):
    """Second-precision timestamps as microseconds: DuckDB 2.0's perfect-hash GROUP BY on
    ``EXTRACT(YEAR FROM <TIMESTAMP_S>)`` fails ("aggregate group ... exceeded total groups")."""
    if not isinstance(data, pa.Table):
        return data
    fields = [
        pa.field(f.name, pa.timestamp("us", f.type.tz), f.nullable, f.metadata)
        if pa.types.is_timestamp(f.type) and f.type.unit == "s"
        else f
        for f in data.schema
    ]
    return data.cast(pa.schema(fields, data.schema.metadata)) if fields != list(data.schema) else data


def _check_no_directories(con: duckdb.DuckDBPyConnection) -> None:
    # fail closed: if a DuckDB upgrade changes how temp_directory feeds allowed_directories, no query runs
    ((temp, allowed),) = con.execute(
        "SELECT current_setting('temp_directory'), current_setting('allowed_directories')"
    ).fetchall()
    if temp or allowed:
        con.close()
        raise SqlRefused(
            f"the SQL sandbox would allow directories (temp {temp!r}, allowed {allowed!r}) with DuckDB "
            f"{duckdb.__version__}; this is a bug in tasks/sql_sandbox.py, report it"
        )


def empty_tables(spec: ChallengeSpec) -> dict[str, pa.Table]:
    """Zero-row tables with the spec's column types: enough to bind and run every question."""
    return {t.name: arrow_schema(t).empty_table() for t in spec.tables}


def check_read_only(sql: str) -> None:
    """Raise ``SqlRefused`` unless ``sql`` is exactly one SELECT statement that calls nothing refused."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"the SQL does not parse: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise SqlRefused(f"expected one SELECT statement, found {len(statements)}; keep one query per question")
    if statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefused(f"only SELECT queries may run, not {statements[0].type.name}; rewrite it as a query")
    check_introspection(sql)


@functools.cache
def _table_functions() -> frozenset[str]:
    with duckdb.connect(":memory:", config=dict(_CONNECT_CONFIG)) as con:
        rows = con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro')"
        ).fetchall()
    return frozenset(r[0].lower() for r in rows)


@functools.cache
def _refused_views() -> frozenset[str]:
    with duckdb.connect(":memory:", config=dict(_CONNECT_CONFIG)) as con:
        rows = con.execute("SELECT DISTINCT view_name FROM duckdb_views() WHERE internal").fetchall()
    return frozenset(r[0].lower() for r in rows if r[0].lower().startswith(_REFUSED_VIEW_PREFIXES))


def check_introspection(sql: str) -> None:
    """Raise ``SqlRefused`` when ``sql`` calls a file, catalogue or settings function or reads a system view.

    Works on DuckDB's own tokens (string literals and comments are not names), so quoting a name,
    qualifying it with a schema or calling it as a method (``'x'.current_setting()``) does not hide it.
    """
    tokens = duckdb.tokenize(sql)
    table_functions = _table_functions()
    views = _refused_views()
    for i, (start, kind) in enumerate(tokens):
        if kind not in (duckdb.token_type.identifier, duckdb.token_type.keyword):
            continue
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(sql)
        name = sql[start:end].strip().strip('"').lower()
        called = i + 1 < len(tokens) and sql[end : end + 1] == "("
        if called and name in REFUSED_FUNCTIONS:
            raise SqlRefused(f"the query tried to reach outside its tables: {name}() reveals the configuration")
        if called and name in table_functions and name not in ALLOWED_TABLE_FUNCTIONS:
            raise SqlRefused(
                f"the query tried to reach outside its tables: {name}() reads files, settings or the catalogue; "
                f"a question may call only {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))} in its FROM"
            )
        if name in views:
            raise SqlRefused(
                f"the query tried to reach outside its tables: the system view {name} reveals the configuration"
            )


# connections running a question now, so a signal can interrupt them all
_RUNNING: dict[int, duckdb.DuckDBPyConnection] = {}
_RUNNING_LOCK = threading.Lock()
_STOP_SIGNALS: list[int] = []  # received while queries ran; their handlers may have been swallowed by DuckDB


def interrupt_running() -> int:
    """Interrupt every sandboxed query in flight (each then raises in its own thread); how many."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for con in running:
        con.interrupt()
    return len(running)


# A child process ending (asyncio's watcher handles SIGCHLD) or a terminal resize must not stop a question.
_HARMLESS_SIGNALS = frozenset(
    int(getattr(signal, name)) for name in ("SIGCHLD", "SIGWINCH", "SIGURG", "SIGCONT") if hasattr(signal, name)
)


@contextmanager
def interrupt_queries_on_signals() -> Iterator[None]:
    """While open, a signal (Ctrl-C, SIGTERM) also interrupts every sandboxed query in flight.

    Python runs its signal handlers only between bytecodes, and DuckDB does not return to Python
    while a query runs, so a runaway query would keep the handler (KeyboardInterrupt, Prefect's
    SIGTERM bridge) waiting. The C-level handler writes each signal to a wakeup fd; a thread reading
    it interrupts the queries, the query returns, and the Python handler then runs as usual.
    Outside the main thread this does nothing (only the main thread may set the wakeup fd).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            try:
                data = reader.recv(64)
            except OSError:
                return
            if not data:
                return
            stops = [signum for signum in data if signum not in _HARMLESS_SIGNALS]
            if stops:
                with _RUNNING_LOCK:
                    _STOP_SIGNALS.extend(stops)
                interrupt_running()
            if previous != -1:  # whoever had the wakeup fd before still hears about the signal
                with suppress(OSError):
                    os.write(previous, data)

    thread = threading.Thread(target=watch, name="sql-signal-watch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous)
        writer.close()
        with suppress(OSError):
            reader.shutdown(socket.SHUT_RDWR)
        reader.close()


def _let_signal_handlers_run() -> None:
    """A signal interrupted the query: its Python handler's exception (KeyboardInterrupt, Prefect's SIGTERM
    bridge) must win over DuckDB's "Query interrupted".

    The handler may still be pending (it then runs at one of the next bytecode boundaries) or DuckDB may have
    run it while it checked for Ctrl-C, and then dropped its exception: it is run once more for that signal.
    """
    for _ in range(20):
        time.sleep(0.005)
    with _RUNNING_LOCK:
        received = list(dict.fromkeys(_STOP_SIGNALS))
        _STOP_SIGNALS.clear()
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in received:
        handler = signal.getsignal(signum)
        if callable(handler):
            handler(signum, None)


class _Watch:
    """Interrupts ``con`` after ``seconds`` unless the query finished first (then it does nothing)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.con = con
        self.expired = False
        self._done = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def _expire(self) -> None:
        with self._lock:  # never interrupts the next query on this connection: ``stop`` holds the same lock
            if not self._done:
                self.expired = True
                self.con.interrupt()

    def __enter__(self) -> _Watch:
        with _RUNNING_LOCK:
            _RUNNING[id(self)] = self.con
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()
        with _RUNNING_LOCK:
            _RUNNING.pop(id(self), None)


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, *, label: str = "the query", limits: SqlLimits | None = None
) -> pd.DataFrame:
    """Run one read-only question on a sandbox connection, within ``limits``.

    Args:
        con: a ``sandbox`` connection (or a cursor of one).
        sql: one SELECT statement.
        label: names the query in limit errors, e.g. the question id ``q07``.
        limits: the time and row limits; ``DATAFACTORY_SQL_*`` settings when omitted.

    Raises:
        SqlRefused: not a single SELECT, or it touched a file, an extension, the network or the configuration.
        SqlLimitExceeded: it ran longer than the time limit, needed more memory than the sandbox has, or
            returned more rows than the cap.
        duckdb.Error: the query is wrong (unknown column, type error ...), or it was interrupted by a signal.
    """
    check_read_only(sql)
    limits = limits or SqlLimits.from_settings()
    seconds = f"{limits.timeout_seconds:g}"
    if threading.current_thread() is threading.main_thread():
        with _RUNNING_LOCK:
            _STOP_SIGNALS.clear()  # a signal handled before this query started is not this query's
    with _Watch(con, limits.timeout_seconds) as watch:
        try:
            return _fetch_capped(con.execute(sql), limits.max_rows, label)
        except (duckdb.InterruptException, RuntimeError) as exc:
            if not isinstance(exc, duckdb.InterruptException) and "interrupted" not in str(exc).lower():
                raise
            if watch.expired:
                raise SqlLimitExceeded(
                    f"{label} ran longer than {seconds} s and was stopped; simplify it "
                    "or raise DATAFACTORY_SQL_TIMEOUT_SECONDS"
                ) from None
            _let_signal_handlers_run()
            raise
        except duckdb.OutOfMemoryException:
            raise SqlLimitExceeded(
                f"{label} needs more memory than the SQL sandbox's limit ({limits.memory_limit}); simplify it "
                "(a join without a condition multiplies rows) or raise DATAFACTORY_SQL_MEMORY_LIMIT"
            ) from None
        except duckdb.PermissionException as exc:
            raise SqlRefused(f"the query tried to reach outside its tables: {str(exc).splitlines()[0]}") from None
        finally:
            # a result left half read (over the cap, or interrupted) would block the connection's next use
            with suppress(duckdb.Error):
                con.abort()


def _fetch_capped(result: duckdb.DuckDBPyConnection, max_rows: int, label: str) -> pd.DataFrame:
    """The result as a DataFrame, read in chunks and stopped past ``max_rows`` (DuckDB streams it)."""
    vectors = max(1, -(-(max_rows + 1) // 2048))  # DuckDB's chunks hold 2048 rows
    parts: list[pd.DataFrame] = []
    rows = 0
    while True:
        part = result.fetch_df_chunk(vectors)
        if part is None or len(part) == 0:
            if part is not None and not parts:
                parts.append(part)  # an empty result keeps its columns and types
            break
        parts.append(part)
        rows += len(part)
        if rows > max_rows:
            raise SqlLimitExceeded(
                f"{label} returns more than {max_rows:,} rows; aggregate or filter it (a question's answer "
                "is a summary) or raise DATAFACTORY_SQL_MAX_ROWS"
            )
    if not parts:
        return pd.DataFrame()
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    return _whole_numbers_as_integers(frame, [str(column[1]) for column in result.description or []])


def _whole_numbers_as_integers(frame: pd.DataFrame, duckdb_types: list[str]) -> pd.DataFrame:
    """HUGEINT columns (what DuckDB's SUM of integers returns) come back as floats; a count summed over
    months is a whole number and reads "2,295", not "2,295.00", so they become int64 when they fit."""
    for position, type_name in enumerate(duckdb_types[: frame.shape[1]]):
        if type_name.upper() not in {"HUGEINT", "UHUGEINT"}:
            continue
        values = frame.iloc[:, position]
        if values.dtype.kind == "f" and values.notna().all() and (values.abs() < 2**53).all():
            frame[frame.columns[position]] = values.astype("int64")
    return frame
