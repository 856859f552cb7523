"""The package's SQL scripts load its CSVs into real databases with every key on, for every domain.

PostgreSQL: a throwaway server (initdb + pg_ctl as an unprivileged user, loopback port, temporary
folder) runs ``psql -f sql/postgresql.sql`` from the unzipped package, as a learner would.
MariaDB (Debian's MySQL-compatible server; MySQL 8 itself is not packaged there): a throwaway
server on a unix socket runs ``mysql --local-infile=1 < sql/mysql.sql``, which is also parsed as
MySQL by sqlglot. DuckDB runs ``sql/duckdb.sql`` the same way.
"""

from __future__ import annotations

import csv
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from test_ddl import check_mysql_load

from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec
from tasks.ddl import iter_statements, mysql_database_name
from tasks.domains import load_blueprint
from tasks.engine.output import generate_to_files
from tasks.package import build_packages

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SMALL_SCALE = 300


def _specs() -> list[tuple[str, Path]]:
    domains = [(f"domain-{p.stem}", p) for p in sorted((ROOT / "domains").glob("*.yaml"))]
    fixtures = [(f"fixture-{p.stem}", p) for p in sorted(FIXTURES.glob("package_*.yaml"))]
    # the fixtures stay even when there are many domains: they cover reserved-word names, composite keys,
    # booleans, date-times and a foreign key to a unique non-primary column
    return domains + fixtures


SPECS = _specs()


def load_spec(path: Path) -> ChallengeSpec:
    if path.parent.name == "domains":
        spec = load_blueprint(path).spec
        return spec.model_copy(update={"scale": min(spec.scale, SMALL_SCALE)})
    return spec_from_yaml(path.read_text())


@dataclass
class Unzipped:
    spec: ChallengeSpec
    folder: Path
    row_counts: dict[str, int]


@pytest.fixture(scope="module", params=[p for _, p in SPECS], ids=[i for i, _ in SPECS])
def unzipped(request, tmp_path_factory) -> Unzipped:
    spec = load_spec(request.param)
    work = tmp_path_factory.mktemp(spec.challenge.id)
    files = generate_to_files(spec, work / "work")
    paths = build_packages(spec, files.csv, work / "out")
    folder = work / "unzipped"
    with zipfile.ZipFile(paths.full) as zf:
        zf.extractall(folder)
    return Unzipped(spec, folder, files.row_counts)


# --------------------------------------------------------------------------- PostgreSQL server


def _pg_bin(name: str) -> str | None:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    port: int
    psql: str

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname}"

    def run_script(self, db: str, folder: Path) -> subprocess.CompletedProcess:
        """``psql -f sql/postgresql.sql`` from ``folder`` into a new, empty database ``db``."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
            conn.execute(f'CREATE DATABASE "{db}"')
        command = [self.psql, "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db]
        return subprocess.run([*command, "-f", "sql/postgresql.sql"], cwd=folder, capture_output=True, text=True)


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    initdb, pg_ctl, psql = _pg_bin("initdb"), _pg_bin("pg_ctl"), _pg_bin("psql")
    if not (initdb and pg_ctl and psql):
        pytest.skip(
            "PostgreSQL server binaries not found; install the Debian packages postgresql and postgresql-client"
        )
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to run the server; install the postgresql package")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="datafactory-pg-"))
    if as_user:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
        run(pg_ctl, "-D", str(data), "-l", str(base / "log"), "-o", options, "-w", "-t", "120", "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr}") from exc
    try:
        yield Postgres(port, psql)
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def _expected_constraints(spec: ChallengeSpec) -> dict[str, int]:
    return {
        "p": sum(1 for t in spec.tables if t.primary_key),
        "f": len(spec.relationships),
    }


def test_postgresql_script_loads_every_csv_with_keys_on(postgres: Postgres, unzipped: Unzipped) -> None:
    """A learner runs `psql -f sql/postgresql.sql` in the unzipped folder: every row loads, every key holds."""
    import psycopg

    db = unzipped.spec.challenge.id.replace("-", "_")

    # Run
    result = postgres.run_script(db, unzipped.folder)

    # Assert
    assert result.returncode == 0, result.stderr
    with psycopg.connect(postgres.dsn(db)) as conn:
        for table, rows in unzipped.row_counts.items():
            assert conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == rows, table
        kinds = dict(
            conn.execute(
                "SELECT contype, count(*) FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = 'public' AND contype IN ('p', 'f') AND convalidated GROUP BY contype"
            ).fetchall()
        )
    expected = _expected_constraints(unzipped.spec)
    assert {k: kinds.get(k, 0) for k in expected} == expected


def test_postgresql_script_stops_and_loads_nothing_when_a_key_is_broken(postgres: Postgres, unzipped: Unzipped) -> None:
    """The keys are really enforced: an orphan row makes the whole script fail, and no table is left half-loaded."""
    import psycopg

    spec = unzipped.spec
    broken, _ = _with_an_orphan_row(unzipped, "broken")
    db = spec.challenge.id.replace("-", "_") + "_broken"

    # Run
    result = postgres.run_script(db, broken)

    # Assert
    assert result.returncode != 0
    assert "foreign key" in result.stderr
    with psycopg.connect(postgres.dsn(db)) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0  # one transaction: nothing stays behind


def _with_an_orphan_row(unzipped: Unzipped, name: str):
    """A copy of the package whose last relationship's child CSV points at a parent that does not exist."""
    spec = unzipped.spec
    if not spec.relationships:
        pytest.skip("this schema has no foreign key")
    rel = spec.relationships[-1]
    child = spec.table(rel.child_table)
    broken = unzipped.folder.parent / name
    shutil.copytree(unzipped.folder, broken, dirs_exist_ok=True)
    path = broken / f"{child.name}.csv"
    header, first, *rest = path.read_text().splitlines()
    values = next(csv.reader([first]))
    values[child.column_names.index(rel.child_column)] = "999999999"
    path.write_text("\n".join([header, ",".join(_csv_quote(v) for v in values), *rest]) + "\n")
    return broken, rel


def _csv_quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if value else ""


# --------------------------------------------------------------------------- DuckDB and MySQL


def test_duckdb_script_loads_every_csv_with_keys_on(unzipped: Unzipped, monkeypatch) -> None:
    """`duckdb x.duckdb < sql/duckdb.sql` from the unzipped folder: every row loads, keys are declared."""
    # Setup
    monkeypatch.chdir(unzipped.folder)
    script = (unzipped.folder / "sql" / "duckdb.sql").read_text()

    # Run
    with duckdb.connect(str(unzipped.folder.parent / "check.duckdb")) as con:
        con.execute(script)
        counts = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in unzipped.row_counts}
        kinds = dict(
            con.execute(
                "SELECT constraint_type, count(*) FROM duckdb_constraints() "
                "WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') GROUP BY constraint_type"
            ).fetchall()
        )

    # Assert
    assert counts == unzipped.row_counts
    expected = _expected_constraints(unzipped.spec)
    assert kinds.get("PRIMARY KEY", 0) == expected["p"]
    assert kinds.get("FOREIGN KEY", 0) == expected["f"]


def test_mysql_script_parses_as_mysql(unzipped: Unzipped) -> None:
    """Every statement reads as MySQL; each table is created with its keys, parents first, before any load."""
    # Setup
    script = (unzipped.folder / "sql" / "mysql.sql").read_text()

    # Run
    creates: list[exp.Create] = []
    loaded: list[str] = []
    for statement in iter_statements(script):
        if statement.startswith("LOAD DATA"):
            loaded.append(check_mysql_load(statement))
            continue
        parsed = sqlglot.parse_one(statement, read="mysql")
        assert not loaded or not isinstance(parsed, exp.Create), "a table is created after the loads began"
        if isinstance(parsed, exp.Create) and parsed.kind == "TABLE":
            creates.append(parsed)

    # Assert
    names = [c.this.this.name for c in creates]
    assert names == _parents_first(unzipped.spec, names)
    assert sorted(names) == sorted(unzipped.spec.table_names) == sorted(loaded)
    assert sum(len(list(c.find_all(exp.ForeignKey))) for c in creates) == len(unzipped.spec.relationships)


def _parents_first(spec: ChallengeSpec, order: list[str]) -> list[str]:
    """``order`` if every parent comes before its children, else an order that shows the problem."""
    position = {name: i for i, name in enumerate(order)}
    for r in spec.relationships:
        if r.parent_table != r.child_table and position[r.parent_table] > position[r.child_table]:
            return [f"{r.parent_table} after {r.child_table}"]
    return order


def test_messy_data_loads_with_only_the_broken_keys_relaxed(postgres: Postgres, tmp_path) -> None:
    """A data-cleaning challenge: duplicates, typos in a foreign key and mixed date formats still load raw."""
    import psycopg
    import pyarrow.csv as pacsv

    from schemas.spec import MessinessRule
    from tasks.engine import generate_dataset
    from tasks.engine.messiness import apply_messiness, to_arrow_lenient

    # Setup
    spec = spec_from_yaml((FIXTURES / "package_clinic.yaml").read_text())
    spec = spec.model_copy(
        update={
            "messiness": [
                MessinessRule(kind="duplicates", table="patients", rate=0.05),
                MessinessRule(kind="typos", table="visits", column="patient_id", rate=0.05),
                MessinessRule(kind="date_formats", table="visits", column="booked_at", rate=0.1),
                MessinessRule(kind="missing", table="visits", column="fee", rate=0.1),
                MessinessRule(kind="whitespace", table="doctors", column="specialty", rate=0.2),
            ]
        }
    )
    tables, log = apply_messiness(spec, generate_dataset(spec))
    assert log
    csv_files = {}
    for table in spec.tables:
        csv_files[table.name] = tmp_path / f"{table.name}.csv"
        pacsv.write_csv(to_arrow_lenient(tables[table.name], table), csv_files[table.name])
    paths = build_packages(spec, csv_files, tmp_path / "out")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(paths.full) as zf:
        zf.extractall(folder)
    db = "clinic_messy"

    # Run
    result = postgres.run_script(db, folder)

    # Assert
    assert result.returncode == 0, result.stderr
    with psycopg.connect(postgres.dsn(db)) as conn:
        for name, frame in tables.items():
            assert conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == len(frame), name
        keys = conn.execute(
            "SELECT conrelid::regclass::text, contype FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2"
        ).fetchall()
    # patients lost its key (duplicates), visits.patient_id its foreign key (typos); the rest holds
    assert keys == [("doctors", "p"), ("visits", "f"), ("visits", "p")]


# --------------------------------------------------------------------------- MariaDB server (the MySQL script)


@dataclass
class MariaDB:
    socket: Path
    client: str

    def run(self, *args: str, cwd: Path | None = None, script: Path | None = None) -> subprocess.CompletedProcess:
        command = [self.client, "--no-defaults", "-u", "root", "-S", str(self.socket), *args]
        if script is None:
            return subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        with (cwd / script if cwd else script).open() as handle:
            return subprocess.run(command, cwd=cwd, stdin=handle, capture_output=True, text=True)

    def query(self, sql: str) -> list[list[str]]:
        result = self.run("-N", "-B", "-e", sql)
        assert result.returncode == 0, result.stderr
        return [line.split("\t") for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDB]:
    server = shutil.which("mariadbd") or shutil.which("mariadbd", path="/usr/sbin:/usr/local/sbin")
    install, client = shutil.which("mariadb-install-db"), shutil.which("mariadb") or shutil.which("mysql")
    if not (server and install and client):
        pytest.skip("MariaDB not found; install the Debian package mariadb-server")
    base = Path(tempfile.mkdtemp(prefix="datafactory-mariadb-"))
    as_root = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd runs as root only when told to
    data = f"--datadir={base / 'data'}"
    setup = [install, "--no-defaults", data, *as_root, "--auth-root-authentication-method=normal", "--skip-test-db"]
    subprocess.run(setup, check=True, capture_output=True)
    process = subprocess.Popen(
        [server, "--no-defaults", data, *as_root, f"--socket={base / 'sock'}", "--skip-networking"]
        + ["--local-infile=1", "--innodb-flush-log-at-trx-commit=0", f"--log-error={base / 'error.log'}"]
        + [f"--pid-file={base / 'pid'}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = MariaDB(base / "sock", client)
    deadline = time.monotonic() + 120
    while db.run("-e", "SELECT 1").returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = (base / "error.log").read_text() if (base / "error.log").exists() else ""
            shutil.rmtree(base, ignore_errors=True)
            raise RuntimeError(f"could not start MariaDB: {log[-2000:]}")
        time.sleep(0.3)
    try:
        yield db
    finally:
        process.terminate()
        process.wait(60)
        shutil.rmtree(base, ignore_errors=True)


def test_mysql_script_loads_every_csv_with_keys_on(mariadb: MariaDB, unzipped: Unzipped) -> None:
    """`mysql --local-infile=1 < sql/mysql.sql` from the unzipped folder: every row loads, no value is changed."""
    # Run
    result = mariadb.run("--local-infile=1", "--show-warnings", cwd=unzipped.folder, script=Path("sql/mysql.sql"))

    # Assert
    assert result.returncode == 0, result.stderr
    assert "Warning (Code" not in result.stdout + result.stderr  # a changed or truncated value warns
    db = mysql_database_name(unzipped.spec)
    counts = {t: int(mariadb.query(f"SELECT COUNT(*) FROM `{db}`.`{t}`")[0][0]) for t in unzipped.row_counts}
    assert counts == unzipped.row_counts
    kinds = dict(
        mariadb.query(
            "SELECT constraint_type, COUNT(*) FROM information_schema.table_constraints "
            f"WHERE table_schema = '{db}' AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') "
            "GROUP BY constraint_type"
        )
    )
    expected = _expected_constraints(unzipped.spec)
    assert int(kinds.get("PRIMARY KEY", 0)) == expected["p"]
    assert int(kinds.get("FOREIGN KEY", 0)) == expected["f"]


def test_mysql_script_stops_at_a_row_that_breaks_a_key(mariadb: MariaDB, unzipped: Unzipped) -> None:
    """LOAD DATA LOCAL only warns about an orphan row and skips it: the script's check turns that into an error."""
    broken, rel = _with_an_orphan_row(unzipped, "broken-mysql")

    # Run
    result = mariadb.run("--local-infile=1", cwd=broken, script=Path("sql/mysql.sql"))

    # Assert
    assert result.returncode != 0
    assert "ERROR 1242" in result.stderr
    assert f"{rel.parent_table}: loaded" in result.stdout and f"{rel.child_table}: loaded" not in result.stdout
