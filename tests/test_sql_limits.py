"""Question SQL runs under limits (time, memory, threads, rows) and in a sandbox that allows no directory.

Each case reproduces a failure of issue 18: a recursive CTE that hung phase 2, a 4-way cross join that
passed phases 2-3 and hung the answer key, a result of 10 million rows, and ``<cwd>/.tmp/`` and the
settings readable from question SQL. Limits are short here; no test asserts a timing.
"""

from __future__ import annotations

import os
import signal
import threading

import duckdb
import pyarrow as pa
import pytest

from schemas.serialize import spec_from_data, spec_to_data
from tasks.answers import compute_answers
from tasks.engine import generate_dataset
from tasks.preview import check_preview
from tasks.schema_check import validate_schema
from tasks.sql_sandbox import (
    SqlLimitExceeded,
    SqlLimits,
    SqlRefused,
    interrupt_queries_on_signals,
    interrupt_running,
    run_query,
    sandbox,
)

RECURSIVE = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r"
CROSS_JOIN = "SELECT count(*) FROM t a, t b, t c, t d"
SHORT = SqlLimits(timeout_seconds=0.3, memory_limit="500MB", threads=2, max_rows=1_000)


@pytest.fixture()
def numbers():
    con = sandbox({"t": pa.table({"a": list(range(300))})}, limits=SHORT)
    yield con
    con.close()


def _with_question(spec, sql: str, index: int = 0):
    data = spec_to_data(spec)
    data["questions"][index]["sql"] = sql
    return spec_from_data(data)


# --------------------------------------------------------------------------- time, rows, memory


@pytest.mark.parametrize("sql", [RECURSIVE, CROSS_JOIN], ids=["recursive-cte", "4-way-cross-join"])
def test_a_runaway_query_is_stopped_with_the_question_and_the_setting_named(numbers, sql: str) -> None:
    with pytest.raises(SqlLimitExceeded) as caught:
        run_query(numbers, sql, label="q07", limits=SHORT)
    message = str(caught.value)
    assert message.startswith("q07 ran longer than 0.3 s")
    assert "DATAFACTORY_SQL_TIMEOUT_SECONDS" in message


def test_the_connection_works_after_a_stopped_query_and_the_timer_never_hits_the_next_one(numbers) -> None:
    with pytest.raises(SqlLimitExceeded):
        run_query(numbers, RECURSIVE, label="q07", limits=SHORT)
    for _ in range(20):  # quick queries: an expired timer left behind would interrupt one of them
        assert run_query(numbers, "SELECT count(*) AS n FROM t", limits=SHORT)["n"].tolist() == [300]


def test_a_result_over_the_row_cap_fails_clearly(numbers) -> None:
    with pytest.raises(SqlLimitExceeded) as caught:
        run_query(numbers, "SELECT * FROM range(10000000)", label="q03", limits=SHORT)
    assert "q03 returns more than 1,000 rows" in str(caught.value)
    assert "DATAFACTORY_SQL_MAX_ROWS" in str(caught.value)
    # exactly at the cap is fine, and the connection is usable again
    assert len(run_query(numbers, "SELECT * FROM range(1000)", limits=SHORT)) == 1000


def test_results_read_in_chunks_equal_duckdbs_own_dataframe(numbers) -> None:
    sql = (
        "SELECT a, CASE WHEN a % 3 = 0 THEN NULL ELSE a END AS maybe, (a / 7)::DECIMAL(10, 2) AS d, "
        "DATE '2024-01-01' + a::INT AS day, 'x' || a AS s, a % 2 = 0 AS even FROM t WHERE a % 5 <> 0 ORDER BY a DESC"
    )
    wide = SqlLimits(timeout_seconds=30, memory_limit="500MB", threads=2, max_rows=10_000)
    got = run_query(numbers, sql, limits=wide)
    expected = numbers.execute(sql).df()
    assert got.dtypes.to_dict() == expected.dtypes.to_dict()
    assert got.equals(expected)
    empty = run_query(numbers, "SELECT a, 'x' AS s FROM t WHERE false", limits=wide)
    assert list(empty.columns) == ["a", "s"] and empty.empty


def test_a_query_over_the_memory_limit_fails_clearly() -> None:
    small = SqlLimits(timeout_seconds=30, memory_limit="64MB", threads=2, max_rows=10)
    con = sandbox({"t": pa.table({"a": [1]})}, limits=small)
    with pytest.raises(SqlLimitExceeded) as caught:
        run_query(
            con, "SELECT count(*) FROM (SELECT range FROM range(30000000) ORDER BY random())", label="q02", limits=small
        )
    assert "q02 needs more memory" in str(caught.value) and "DATAFACTORY_SQL_MEMORY_LIMIT" in str(caught.value)


def test_the_sandbox_takes_its_memory_limit_and_threads_from_the_settings(monkeypatch) -> None:
    monkeypatch.setenv("DATAFACTORY_SQL_MEMORY_LIMIT", "300MB")
    monkeypatch.setenv("DATAFACTORY_SQL_THREADS", "1")
    con = sandbox({"t": pa.table({"a": [1]})})
    memory, threads = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall()[0]
    assert memory.endswith("MiB") and float(memory.split()[0]) < 300
    assert threads == 1


def test_a_bad_memory_limit_setting_is_named() -> None:
    from schemas.errors import InputError

    with pytest.raises(InputError, match="DATAFACTORY_SQL_MEMORY_LIMIT='lots'"):
        sandbox({}, limits=SqlLimits(memory_limit="lots"))


# --------------------------------------------------------------------------- every caller


def test_phase_2_scores_a_runaway_question_as_failed(retail_spec, monkeypatch) -> None:
    monkeypatch.setenv("DATAFACTORY_SQL_TIMEOUT_SECONDS", "0.3")
    spec = _with_question(retail_spec, RECURSIVE)
    validation = validate_schema(spec)
    first = validation.questions[0]
    assert not first.answerable
    assert first.error.startswith(f"{first.question_id} ran longer than 0.3 s")
    assert validation.score < 10


def test_preview_and_answer_key_stop_a_cross_join_and_go_on_with_the_other_questions(retail_spec, monkeypatch) -> None:
    monkeypatch.setenv("DATAFACTORY_SQL_TIMEOUT_SECONDS", "0.3")
    tables = generate_dataset(retail_spec, row_cap=300)
    big = max(tables, key=lambda name: len(tables[name]))
    spec = _with_question(retail_spec, f"SELECT count(*) AS n FROM {big} a, {big} b, {big} c, {big} d")
    qid = spec.questions[0].id
    # Run
    preview = check_preview(spec, tables)
    key = compute_answers(spec, tables)
    # Assert: the runaway question fails with its name, the others are answered
    assert not preview.questions[0].answerable and "ran longer than 0.3 s" in preview.questions[0].error
    assert key.answers[0].error and f"{qid} ran longer than 0.3 s" in key.answers[0].error
    assert all(a.error is None for a in key.answers[1:])


def test_quality_reports_a_runaway_question_as_a_finding(retail_spec, monkeypatch) -> None:
    from tasks.quality import run_quality

    monkeypatch.setenv("DATAFACTORY_SQL_TIMEOUT_SECONDS", "0.3")
    spec = _with_question(retail_spec, RECURSIVE)
    report = run_quality(spec, generate_dataset(spec, row_cap=200), gx=False)
    texts = [f"{f.message} {' '.join(f.examples)}" for c in report.categories for f in c.findings]
    assert any(f"{spec.questions[0].id} ran longer than 0.3 s" in t for t in texts), texts
    assert report.verdict == "fail"


# --------------------------------------------------------------------------- signals


def test_interrupt_running_stops_a_query_in_another_thread(numbers) -> None:
    limits = SqlLimits(timeout_seconds=600, memory_limit="500MB", threads=2, max_rows=10)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            run_query(numbers, RECURSIVE, limits=limits)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    for _ in range(1200):  # an interrupt that lands before the query starts is dropped by DuckDB: repeat it
        interrupt_running()
        worker.join(0.05)
        if not worker.is_alive():
            break
    assert not worker.is_alive()
    # interrupted, not timed out: a signal is not the question's fault
    assert isinstance(outcome[0], duckdb.InterruptException)


def test_a_signal_reaches_its_handler_while_a_runaway_query_runs_in_the_main_thread(numbers) -> None:
    limits = SqlLimits(timeout_seconds=600, memory_limit="500MB", threads=2, max_rows=10)

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        sender = threading.Thread(target=_signal_when_running, args=(signal.SIGUSR1,))
        with interrupt_queries_on_signals(), pytest.raises(Stop):
            sender.start()
            run_query(numbers, RECURSIVE, limits=limits)
        sender.join()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert signal.set_wakeup_fd(-1) == -1  # the wakeup fd was given back


def test_a_child_process_ending_does_not_interrupt_a_query(numbers) -> None:
    # asyncio's child watcher handles SIGCHLD, so a subprocess ending writes to the wakeup fd too; in the full
    # suite that interrupted a query that no stop signal was sent to
    limits = SqlLimits(timeout_seconds=1.0, memory_limit="500MB", threads=2, max_rows=10)
    previous = signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    try:
        sender = threading.Thread(target=_child_ends_when_running)
        with interrupt_queries_on_signals(), pytest.raises(SqlLimitExceeded, match="ran longer than 1 s"):
            sender.start()
            run_query(numbers, RECURSIVE, limits=limits)
        sender.join()
    finally:
        signal.signal(signal.SIGCHLD, previous)


def _child_ends_when_running() -> None:
    import subprocess

    _wait_until_running()
    subprocess.run(["true"], check=True)


def _wait_until_running() -> None:
    from tasks import sql_sandbox

    for _ in range(600):
        with sql_sandbox._RUNNING_LOCK:
            running = bool(sql_sandbox._RUNNING)
        if running:
            break
        threading.Event().wait(0.05)


def _signal_when_running(signum: int) -> None:
    _wait_until_running()
    os.kill(os.getpid(), signum)


# --------------------------------------------------------------------------- no directory, no introspection


def test_the_sandbox_allows_no_directory(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "x").write_text("secret")
    con = sandbox({"t": pa.table({"a": [1]})})
    assert con.execute("SELECT current_setting('allowed_directories')").fetchall() == [([],)]
    assert con.execute("SELECT current_setting('temp_directory')").fetchall() == [("",)]
    # DuckDB itself refuses the file, even past the SQL check
    with pytest.raises(duckdb.PermissionException):
        con.execute("SELECT * FROM read_text('.tmp/x')").fetchall()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_text('.tmp/x')",
        "SELECT * FROM glob('.tmp/*')",
        "SELECT * FROM duckdb_settings()",
        'SELECT * FROM main."duckdb_settings"()',
        "SELECT current_setting('temp_directory')",
        "SELECT 'home_directory'.current_setting()",
        "SELECT * FROM pg_catalog.pg_settings",
        "SELECT * FROM duckdb_databases",
        "SELECT * FROM duckdb_temporary_files()",
        "SELECT * FROM query('SELECT * FROM duckdb_settings()')",
        "SELECT * FROM pragma_database_list",
        "SELECT * FROM which_secret('s3://x', 's3')",
    ],
)
def test_path_revealing_introspection_is_refused(tmp_path, monkeypatch, sql: str) -> None:
    monkeypatch.chdir(tmp_path)
    con = sandbox({"t": pa.table({"a": [1]})})
    with pytest.raises(SqlRefused) as caught:
        run_query(con, sql)
    assert "the query tried to reach outside its tables" in str(caught.value)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM range(3)",
        "SELECT repeat('ab', 2) AS r, 'read_text(x) and duckdb_settings()' AS s",  # names in a literal
        "SELECT unnest([1, 2]) AS u -- glob('.tmp/*') in a comment",
        "SELECT histogram(a) AS h FROM t",
        "SELECT * FROM generate_series(1, 3)",
        "SELECT count(*) AS n FROM information_schema.columns",
    ],
)
def test_ordinary_functions_still_run(sql: str) -> None:
    con = sandbox({"t": pa.table({"a": [1, 2]})})
    assert len(run_query(con, sql)) >= 1
