"""What every category's checks share: the ``Schema`` (spec + physical types), SQL quoting, tolerances,
and what a generator can produce (empty values, stored decimals, date windows, referenced dates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from schemas.dependencies import column_dependencies
from schemas.spec import (
    ChallengeSpec,
    ColumnSpec,
    ConditionalGenerator,
    DateGenerator,
    DateOffsetGenerator,
    DateSequenceGenerator,
    DerivedGenerator,
    TableSpec,
)
from tasks.engine.types import declared_decimals
from tasks.quality.sqlexpr import Untranslatable, translate

# the DuckDB type family each spec type must have
FAMILY = {
    "int": "INTEGER",
    "float": "FLOAT",
    "decimal": "FLOAT",
    "string": "TEXT",
    "category": "TEXT",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
SQL_TYPE = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "decimal": "DOUBLE",
    "string": "VARCHAR",
    "category": "VARCHAR",
    "bool": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
}
Z = 5.0  # tolerances are Z standard errors wide: a clean dataset fails by chance about once in 3.5 million
REFERENCE_DRAWS = 200_000
MONTH_MIN_EXPECTED = 12.0  # a month is checked when it expects this many rows (empty by chance: < 1e-5)
DERIVED_TOLERANCE = 0.006  # a recomputed value may differ by this much (half a cent and float noise)


def type_family(duckdb_type: str) -> str:
    """``BIGINT`` -> INTEGER, ``DECIMAL(18,2)`` -> FLOAT, ``TIMESTAMP_S`` -> TIMESTAMP, ``VARCHAR`` -> TEXT."""
    t = duckdb_type.upper()
    if t.startswith(("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")):
        return "INTEGER"
    if t.startswith("UBIGINT") or t.startswith("UHUGEINT"):
        return "INTEGER"
    if t.startswith(("DOUBLE", "FLOAT", "REAL", "DECIMAL")):
        return "FLOAT"
    if t.startswith("TIMESTAMP"):
        return "TIMESTAMP"
    if t.startswith(("VARCHAR", "STRING", "TEXT")):
        return "TEXT"
    return t


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(value: object) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


class Schema:
    """The spec plus what the data physically holds: how to read each column in SQL."""

    def __init__(self, spec: ChallengeSpec, types: Mapping[str, Mapping[str, str]], rows: Mapping[str, int]):
        self.spec = spec
        self.types = types
        self.rows = rows

    def has(self, table: str, column: str | None = None) -> bool:
        if table not in self.types:
            return False
        return column is None or column in self.types[table]

    def typed(self, table: str, column: str) -> bool:
        spec_type = self.spec.table(table).column(column).type
        return type_family(self.types[table][column]) == FAMILY[spec_type]

    def ref(self, table: str, column: str, alias: str = "") -> str:
        """The column in SQL, as its spec type (``TRY_CAST`` when the data holds text that may not parse)."""
        name = f"{alias}.{q(column)}" if alias else q(column)
        if self.typed(table, column):
            return name
        return f"TRY_CAST({name} AS {SQL_TYPE[self.spec.table(table).column(column).type]})"

    def key(self, table: str, alias: str = "") -> str:
        """The row key as text (primary-key parts joined by '|', or '#rowid')."""
        spec = self.spec.table(table)
        prefix = f"{alias}." if alias else ""
        parts = [k for k in spec.primary_key if self.has(table, k)]
        if not parts or len(parts) != len(spec.primary_key):
            return f"'#' || CAST({prefix}rowid AS VARCHAR)"
        return " || '|' || ".join(f"CAST({prefix}{q(k)} AS VARCHAR)" for k in parts)

    def describe(self, table: str, column: str, alias: str = "") -> str:
        """Example text for a row: ``<key>: <column>=<value>``."""
        name = f"{alias}.{q(column)}" if alias else q(column)
        return f"{self.key(table, alias)} || ': {column}=' || coalesce(CAST({name} AS VARCHAR), 'NULL')"

    def text(self, table: str, column: str, alias: str = "") -> str:
        """The column as the engine's ``str(value)``: what conditional cases and categorical values are matched on.

        Python writes booleans ``True``/``False`` where DuckDB writes ``true``/``false``.
        """
        name = f"{alias}.{q(column)}" if alias else q(column)
        if type_family(self.types[table][column]) == "BOOLEAN":
            return f"(CASE WHEN {name} THEN 'True' WHEN NOT {name} THEN 'False' END)"
        return f"CAST({name} AS VARCHAR)"

    def expression(self, table: str, text: str, overrides: Mapping[str, str] | None = None) -> tuple[str, str] | None:
        """``text`` (the spec's grammar) as SQL over ``table``'s row, or None when SQL cannot match the engine."""
        spec_table = self.spec.table(table)

        def column(name: str) -> tuple[str, str, bool]:
            col = spec_table.column(name)
            if col is None or not self.has(table, name):
                raise Untranslatable(name)
            family = FAMILY[col.type] if self.typed(table, name) else "TEXT"
            kind = {"INTEGER": "num", "FLOAT": "num", "BOOLEAN": "bool", "TEXT": "text"}.get(family, "date")
            return self.ref(table, name), kind, may_be_null(self.spec, spec_table, col)

        return translate(text, column, overrides)

    def join_pair(self, left: tuple[str, str, str], right: tuple[str, str, str]) -> tuple[str, str]:
        """Two key columns made comparable: as they are when their types agree, else both as text."""
        (lt, lc, la), (rt, rc, ra) = left, right
        same = type_family(self.types[lt][lc]) == type_family(self.types[rt][rc])
        if same:
            return f"{la}.{q(lc)}", f"{ra}.{q(rc)}"
        return f"CAST({la}.{q(lc)} AS VARCHAR)", f"CAST({ra}.{q(rc)} AS VARCHAR)"


def present_columns(schema: Schema, table: TableSpec) -> list[ColumnSpec]:
    return [c for c in table.columns if schema.has(table.name, c.name)]


def scenario_targets(spec: ChallengeSpec, kinds: tuple[str, ...]) -> dict[tuple[str, str], list]:
    targets: dict[tuple[str, str], list] = {}
    for s in spec.scenarios:
        column = getattr(s.effect, "column", None)
        if column and s.effect.kind in kinds:
            targets.setdefault((s.table, column), []).append(s.effect)
    return targets


def condition_reads(scenario) -> set[str]:
    from schemas.expressions import expression_names

    cond = scenario.condition
    return ({cond.date_column} if cond.date_column else set()) | (expression_names(cond.where) if cond.where else set())


def may_be_null(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, seen: frozenset = frozenset()) -> bool:
    """Whether the generator itself can leave a value empty (no case matches, a null source ...)."""
    if (table.name, column.name) in seen:
        return False
    seen = seen | {(table.name, column.name)}
    gen = column.generator
    if column.nullable > 0:
        return True
    if isinstance(gen, ConditionalGenerator) and gen.default is None:
        return True
    if gen.kind == "rollup" and gen.function not in ("sum", "count"):
        return True
    if isinstance(gen, DerivedGenerator) and expression_may_be_null(spec, table, gen.expression, seen):
        return True
    if gen.kind in ("measure", "group_key") and table.aggregate_of is not None:
        source = spec.table(table.aggregate_of)
        empty_group = gen.kind == "measure" and gen.function in ("mean", "min", "max")
        if gen.expression is not None and (empty_group or gen.kind == "group_key"):
            return expression_may_be_null(spec, source, gen.expression, seen)
        return False
    refs = []
    if gen.kind == "lookup":
        refs.append(f"{gen.via}.{gen.column}")
    if isinstance(gen, DateOffsetGenerator):
        refs.append(gen.from_column)
    for ref in refs:
        source_table, source = resolve_ref(spec, table, ref)
        if source is not None and may_be_null(spec, source_table, source, seen):
            return True
    for dep in column_dependencies(gen) & set(table.column_names):
        if dep != column.name and may_be_null(spec, table, table.column(dep), seen):
            return True
    return False


def expression_may_be_null(spec: ChallengeSpec, table: TableSpec, text: str, seen: frozenset = frozenset()) -> bool:
    """Whether an expression can give an empty value: it says ``None``, takes a log or root, or reads such a column."""
    import ast

    from schemas.expressions import expression_names, parse_expression

    tree = parse_expression(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value is None:
            return True
        if isinstance(node, ast.Name) and node.id == "None":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("log", "sqrt"):
            return True
    for name in expression_names(text) & set(table.column_names):
        if may_be_null(spec, table, table.column(name), seen):
            return True
    return False


def resolve_ref(spec: ChallengeSpec, table: TableSpec, ref: str) -> tuple[TableSpec, ColumnSpec | None]:
    if "." not in ref:
        return table, table.column(ref)
    fk, parent_column = ref.split(".", 1)
    gen = table.column(fk).generator
    parent = spec.table(gen.parent_table)
    return parent, parent.column(parent_column)


def stored_decimals(column: ColumnSpec) -> int | None:
    """Decimals a number column is stored with (``tasks.engine.types.column_to_arrow``); None: not rounded."""
    if column.type == "int":
        return 0
    if column.type == "decimal":
        return declared_decimals(column)
    return None


def date_window(spec: ChallengeSpec, gen) -> tuple[dt.date, dt.date] | None:
    if isinstance(gen, (DateGenerator, DateSequenceGenerator)):
        window = spec.challenge.time_window
        return gen.start or window.start, gen.end or window.end
    return None


def source_sql(schema: Schema, table: TableSpec, ref: str) -> tuple[str, str, set[tuple[str, str]]] | None:
    """(join clause, SQL of the referenced date, inputs) for ``col`` or ``fk.parent_col``."""
    if "." not in ref:
        if not schema.has(table.name, ref):
            return None
        return "", schema.ref(table.name, ref, "c"), {(table.name, ref)}
    fk_name, parent_col = ref.split(".", 1)
    fk = table.column(fk_name).generator
    pt, pk = fk.parent_table, fk.parent_column
    if not (schema.has(table.name, fk_name) and schema.has(pt, pk) and schema.has(pt, parent_col)):
        return None
    left, right = schema.join_pair((table.name, fk_name, "c"), (pt, pk, "p"))
    join = f"JOIN (SELECT DISTINCT {q(pk)}, {q(parent_col)} FROM {q(pt)}) p ON {left} = {right}"
    return join, schema.ref(pt, parent_col, "p"), {(table.name, fk_name), (pt, pk), (pt, parent_col)}
