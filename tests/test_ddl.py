"""The SQL scripts are derived from the spec: types, keys, order, quoting, loads, and relaxed keys for messy data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from schemas.errors import SpecError
from schemas.serialize import spec_from_yaml
from schemas.spec import ChallengeSpec, MessinessRule
from tasks.ddl import (
    DIALECTS,
    column_type,
    create_table_sql,
    iter_statements,
    quote_identifier,
    relaxations,
    schema_sql,
    table_order,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_LOAD = re.compile(
    r"LOAD DATA LOCAL INFILE '(?P<path>[^']+)'\nINTO TABLE `(?P<table>[^`]+)`\nCHARACTER SET utf8mb4\n"
    r"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY ''\nLINES TERMINATED BY '\\n'\n"
    r"IGNORE 1 LINES\n\((?P<variables>[^)]*)\)\nSET\n(?P<sets>.*);$",
    re.S,
)


def check_mysql_load(statement: str) -> str:
    """sqlglot has no grammar for MySQL's LOAD DATA INFILE: check its fixed frame, and parse each SET as MySQL.

    Returns:
        The table the statement loads.
    """
    match = _LOAD.match(statement)
    assert match, f"LOAD DATA statement out of shape:\n{statement}"
    variables = [v.strip() for v in match["variables"].split(",")]
    assignments = [a.strip() for a in match["sets"].split(",\n")]
    assert len(variables) == len(assignments)
    for variable, assignment in zip(variables, assignments, strict=True):
        parsed = sqlglot.parse_one(f"UPDATE t SET {assignment}", read="mysql")
        assert variable in parsed.sql(dialect="mysql"), assignment
    return match["table"]


_SQLGLOT = {"postgresql": "postgres", "mysql": "mysql", "duckdb": "duckdb"}


@pytest.fixture(scope="module")
def clinic() -> ChallengeSpec:
    return spec_from_yaml((FIXTURES / "package_clinic.yaml").read_text())


@pytest.fixture(scope="module")
def subscriptions() -> ChallengeSpec:
    return spec_from_yaml((FIXTURES / "package_subscriptions.yaml").read_text())


def _creates(script: str, dialect: str) -> dict[str, exp.Create]:
    out = {}
    for statement in iter_statements(script):
        if statement.startswith("LOAD DATA"):
            check_mysql_load(statement)
            continue
        parsed = sqlglot.parse_one(statement, read=_SQLGLOT[dialect])
        if isinstance(parsed, exp.Create) and parsed.kind == "TABLE":
            out[parsed.this.this.name] = parsed
    return out


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_statement_parses_in_its_dialect(subscriptions, dialect) -> None:
    """Each script is valid SQL of its dialect (psql's \\copy lines aside), with a table per spec table."""
    script = schema_sql(subscriptions, dialect)
    creates = _creates(script, dialect)
    assert sorted(creates) == sorted(subscriptions.table_names)


def test_tables_come_parents_first(subscriptions) -> None:
    """Loading with foreign keys on needs every parent before its children."""
    assert table_order(subscriptions) == ["plan", "user", "order", "invoice_line"]
    script = schema_sql(subscriptions, "postgresql")
    positions = [script.index(f'CREATE TABLE "{t}"') for t in ["plan", "user", "order", "invoice_line"]]
    assert positions == sorted(positions)
    drops = [script.index(f'DROP TABLE IF EXISTS "{t}"') for t in ["invoice_line", "order", "user", "plan"]]
    assert drops == sorted(drops)  # children dropped first


def test_table_order_rejects_a_foreign_key_cycle(subscriptions) -> None:
    # Setup: bypass spec validation to build a cycle plan -> order -> plan
    plan = subscriptions.table("plan")
    looped = plan.model_copy(
        update={
            "columns": [
                *plan.columns,
                plan.columns[0].model_copy(
                    update={
                        "name": "first_order",
                        "generator": subscriptions.table("order")
                        .column("user_id")
                        .generator.model_copy(update={"references": "order.order_id"}),
                    }
                ),
            ]
        }
    )
    spec = subscriptions.model_copy(update={"tables": [looped, *subscriptions.tables[1:]]})

    # Run / Assert
    with pytest.raises(SpecError, match="foreign keys form a cycle between tables plan, order, invoice_line"):
        table_order(spec)


def test_keys_are_declared(subscriptions) -> None:
    """Primary keys (also composite), unique keys and foreign keys, also to a unique non-primary column."""
    script = schema_sql(subscriptions, "postgresql")
    assert 'PRIMARY KEY ("order_id", "line_no")' in script
    assert 'UNIQUE ("plan_code")' in script
    assert 'FOREIGN KEY ("plan_code") REFERENCES "plan" ("plan_code")' in script
    assert 'FOREIGN KEY ("order_id") REFERENCES "order" ("order_id")' in script
    creates = _creates(script, "postgresql")
    assert len(list(creates["invoice_line"].find_all(exp.ForeignKey))) == 1


def test_types_follow_the_spec(clinic, subscriptions) -> None:
    visits = clinic.table("visits")
    assert column_type(visits, visits.column("fee"), "postgresql") == "NUMERIC(18,2)"
    assert column_type(visits, visits.column("duration_minutes"), "mysql") == "DOUBLE"
    assert column_type(visits, visits.column("booked_at"), "mysql") == "DATETIME"
    assert column_type(visits, visits.column("booked_at"), "postgresql") == "TIMESTAMP"
    assert column_type(visits, visits.column("cancelled"), "duckdb") == "BOOLEAN"
    patients = clinic.table("patients")
    assert column_type(patients, patients.column("patient_id"), "mysql") == "VARCHAR(191)"  # indexed in MySQL
    doctors = clinic.table("doctors")
    assert column_type(doctors, doctors.column("full_name"), "mysql") == "TEXT"


def test_names_are_quoted_so_reserved_words_work(subscriptions) -> None:
    assert 'CREATE TABLE "order"' in schema_sql(subscriptions, "postgresql")
    assert "CREATE TABLE `order`" in schema_sql(subscriptions, "mysql")
    assert quote_identifier('we"ird', "postgresql") == '"we""ird"'
    assert quote_identifier("we`ird", "mysql") == "`we``ird`"
    with pytest.raises(SpecError, match="control characters"):
        quote_identifier("bad\nname", "duckdb")


def test_load_statements_read_the_csvs_from_the_given_folder(clinic) -> None:
    pg = schema_sql(clinic, "postgresql", csv_dir="data")
    assert '\\copy "visits" (' in pg and "FROM 'data/visits.csv' WITH (FORMAT csv, HEADER true)" in pg
    assert "\\set ON_ERROR_STOP on" in pg and pg.rstrip().endswith("COMMIT;")
    duck = schema_sql(clinic, "duckdb")
    assert 'COPY "visits" (' in duck and "FROM './visits.csv' (FORMAT csv, HEADER true);" in duck


def test_mysql_load_turns_empty_fields_into_null_and_text_booleans_into_bits(clinic) -> None:
    """MySQL's LOAD DATA would read '' as 0 or '' and 'true' as 0; the script converts both."""
    script = schema_sql(clinic, "mysql")
    assert "LOAD DATA LOCAL INFILE './visits.csv'" in script
    assert "`fee` = NULLIF(@c5, '')" in script
    assert "`cancelled` = CASE @c6 WHEN 'true' THEN 1 WHEN 'false' THEN 0 ELSE NULL END" in script
    assert "IGNORE 1 LINES" in script and "ESCAPED BY ''" in script
    assert "USE `clinic_visits_test`;" in script


def test_unknown_dialect_is_refused(clinic) -> None:
    with pytest.raises(ValueError, match="unknown SQL dialect 'oracle'; use one of postgresql, mysql, duckdb"):
        schema_sql(clinic, "oracle")  # type: ignore[arg-type]


def test_messiness_relaxes_only_the_keys_it_breaks(clinic) -> None:
    """A data-cleaning challenge plants duplicates and mixed date formats: those keys and types cannot hold raw."""
    # Setup
    messy = clinic.model_copy(
        update={
            "messiness": [
                MessinessRule(kind="duplicates", table="patients", rate=0.02),
                MessinessRule(kind="date_formats", table="visits", column="booked_at", rate=0.05),
            ]
        }
    )

    # Run
    relaxed = relaxations(messy)
    script = schema_sql(messy, "postgresql")

    # Assert
    assert set(relaxed.no_keys) == {"patients"}
    assert set(relaxed.no_foreign_key) == {("visits", "patient_id")}
    creates = _creates(script, "postgresql")
    assert creates["patients"].find(exp.PrimaryKey) is None
    assert creates["visits"].find(exp.PrimaryKey) is not None
    assert 'FOREIGN KEY ("doctor_id") REFERENCES "doctors"' in script
    assert 'FOREIGN KEY ("patient_id")' not in script
    assert "-- visits.patient_id: foreign key to patients not enforced" in script
    assert '"booked_at" TEXT' in script


def test_decimal_columns_keep_every_digit_the_engine_stores() -> None:
    """A conditional decimal (airline fare_multiplier, 3 decimals per case) must not be cut to 2 by the DDL."""
    from tasks.domains import get_blueprint

    spec = get_blueprint("airline").spec
    table = next(t for t in spec.tables if any(c.name == "fare_multiplier" for c in t.columns))
    for dialect in ("postgresql", "mysql", "duckdb"):
        sql = create_table_sql(spec, table, dialect, relaxations(spec))
        assert re.search(r"fare_multiplier\W+(NUMERIC|DECIMAL)\(\d+,3\)", sql), sql
