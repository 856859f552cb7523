"""Resolve a validated spec once into a frozen plan: table order, column order, row-count rules.

Stages: YAML -> validated ``ChallengeSpec`` -> ``ResolvedPlan`` (here) -> chunks -> tables. The engine
runs the plan and never re-validates the spec; ``generate`` checks the plan came from the same spec
by its fingerprint. Everything that can be known to be impossible before any row exists (a unique
column over too small a domain, bounds no value can meet, a cardinality the row counts cannot meet)
fails here, with its location and a remedy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace

from schemas.checks import find_cycle
from schemas.dependencies import column_dependencies
from schemas.errors import GenerationError, SpecError
from schemas.expressions import expression_names
from schemas.serialize import spec_to_json
from schemas.spec import ChallengeSpec, DateSequenceGenerator, ForeignKeyGenerator, TableSpec


@dataclass(frozen=True)
class TablePlan:
    name: str
    column_order: tuple[str, ...]
    foreign_keys: tuple[str, ...]
    static_rows: int | None
    driver: str | None
    calendar: str | None
    volume_scenarios: tuple[str, ...]
    # foreign key -> the date column it is drawn from (only parents that existed on that date)
    date_first: dict[str, str] = field(default_factory=dict)
    # columns this table's children read (kept in memory once the table is built)
    retain: tuple[str, ...] = ()
    # rollup columns, filled once the child table exists
    rollup_columns: tuple[str, ...] = ()
    # candidate rows per final row: volume scenarios that raise volume thin an oversampled table
    oversample: float = 1.0

    @property
    def staged(self) -> bool:
        """Chunks need a second pass: rollups to fill, or sequences to renumber after thinning."""
        return bool(self.rollup_columns or self.volume_scenarios)


@dataclass(frozen=True)
class ResolvedPlan:
    fingerprint: str
    order: tuple[str, ...]
    tables: dict[str, TablePlan]
    # child table -> [(parent table, rollup column)] to fill once the child exists
    rollups: dict[str, tuple[tuple[str, str], ...]]


def spec_fingerprint(spec: ChallengeSpec) -> str:
    return hashlib.sha256(spec_to_json(spec).encode()).hexdigest()[:16]


def resolve_plan(spec: ChallengeSpec) -> ResolvedPlan:
    """Order tables parents-first and columns dependencies-first.

    Raises:
        SpecError: a dependency cycle that only shows once scenarios and rollups are added.
        GenerationError: a row count or cardinality that cannot be met.
    """
    tables = {t.name: _plan_table(spec, t) for t in spec.tables}
    graph = _table_graph(spec)
    cycle = find_cycle(graph)
    if cycle:
        raise SpecError(f"tables depend on each other in a cycle ({' -> '.join(cycle)}) once rollups are counted")
    order = _topological(graph)
    rollups: dict[str, list[tuple[str, str]]] = {}
    for table in spec.tables:
        for column in table.columns:
            if column.generator.kind == "rollup":
                rollups.setdefault(column.generator.table, []).append((table.name, column.name))
    _check_static_cardinality(spec, tables)
    tables = {name: replace(t, retain=_retained_columns(spec, name)) for name, t in tables.items()}
    from tasks.engine.feasibility import check_feasible

    check_feasible(spec, tables)
    return ResolvedPlan(spec_fingerprint(spec), tuple(order), tables, {k: tuple(v) for k, v in rollups.items()})


def _plan_table(spec: ChallengeSpec, table: TableSpec) -> TablePlan:
    foreign_keys = tuple(c.name for c in table.columns if isinstance(c.generator, ForeignKeyGenerator))
    graph = {c.name: column_dependencies(c.generator) & set(table.column_names) for c in table.columns}
    date_first = _date_first_keys(spec, table)
    for fk, date_column in date_first.items():
        graph[date_column].discard(fk)
        graph[fk] = {date_column}
    volume: list[str] = []
    oversample = 1.0
    for scenario in spec.scenarios:
        if scenario.table != table.name:
            continue
        needs = _condition_columns(scenario) & set(table.column_names)
        if scenario.effect.kind == "volume":
            volume.append(scenario.name)
            oversample *= max(1.0, scenario.effect.factor)
        else:
            graph[scenario.effect.column] |= needs - {scenario.effect.column}
    cycle = find_cycle(graph)
    if cycle:
        raise SpecError(
            f"tables.{table.name}: a scenario condition reads a column computed from its effect "
            f"({' -> '.join(cycle)}); condition on an independent column"
        )
    first = tuple(fk for fk in foreign_keys if fk not in date_first)
    order = [c for c in _topological(graph) if c not in first]
    calendar = next((c.name for c in table.columns if isinstance(c.generator, DateSequenceGenerator)), None)
    driver = None
    static = None
    if table.rows is not None:
        static = table.rows
    elif table.ratio is not None:
        static = max(1, round(table.ratio * spec.scale))
    elif table.aggregate_of is None and calendar is None:
        driver = next(c for c in foreign_keys if table.column(c).generator.max_children is not None)
    if driver is not None and oversample > 1.0:
        raise SpecError(
            f"a volume scenario raises the rows of '{table.name}', whose rows follow its parent through "
            f"'{driver}'; put the scenario on the parent table or use a factor below 1",
            f"tables.{table.name}",
        )
    rollups = tuple(c.name for c in table.columns if c.generator.kind == "rollup")
    return TablePlan(
        table.name,
        (*first, *order),
        foreign_keys,
        static,
        driver,
        calendar,
        tuple(volume),
        date_first,
        (),
        rollups,
        oversample,
    )


def _date_first_keys(spec: ChallengeSpec, table: TableSpec) -> dict[str, str]:
    """Foreign keys better drawn from a date: ``after: fk.parent_date`` on a key with no cardinality.

    Drawing the date from its seasonal profile and then a parent that already existed on that date
    keeps the seasonality exact (a redrawn or floored date would pile up late in the window).
    """
    out: dict[str, str] = {}
    for column in table.columns:
        gen = column.generator
        if gen.kind != "date" or not gen.after or "." not in gen.after:
            continue
        fk_name = gen.after.split(".", 1)[0]
        fk = table.column(fk_name)
        if fk is None or not isinstance(fk.generator, ForeignKeyGenerator) or fk_name in out:
            continue
        g = fk.generator
        if g.min_children is None and g.max_children is None and not fk.unique:
            out[fk_name] = column.name
    return out


def _retained_columns(spec: ChallengeSpec, parent: str) -> tuple[str, ...]:
    """Columns of ``parent`` that some child reads: lookups, dates through a key, key filters, keys."""
    needed: set[str] = set()
    for table in spec.tables:
        fks = {c.name: c.generator.parent_table for c in table.columns if isinstance(c.generator, ForeignKeyGenerator)}
        for column in table.columns:
            for gen in _nested(column.generator):
                if isinstance(gen, ForeignKeyGenerator) and gen.parent_table == parent:
                    needed.add(gen.parent_column)
                    if gen.where:
                        needed |= expression_names(gen.where)
                elif gen.kind == "lookup" and fks.get(gen.via) == parent:
                    needed.add(gen.column)
                for ref in (getattr(gen, "after", None), getattr(gen, "from_column", None)):
                    if ref and "." in ref and fks.get(ref.split(".", 1)[0]) == parent:
                        needed.add(ref.split(".", 1)[1])
    parent_spec = spec.table(parent)
    return tuple(c.name for c in parent_spec.columns if c.name in needed and c.generator.kind != "sequence")


def _nested(gen):
    yield gen
    if gen.kind == "conditional":
        for case in [*gen.cases.values(), gen.default]:
            if case is not None:
                yield from _nested(case)


def _condition_columns(scenario) -> set[str]:
    names = set()
    if scenario.condition.date_column:
        names.add(scenario.condition.date_column)
    if scenario.condition.where:
        names |= expression_names(scenario.condition.where)
    return names


def _table_graph(spec: ChallengeSpec) -> dict[str, set[str]]:
    """table -> tables that must be complete first (parents, sources, and children feeding looked-up rollups)."""
    rollup_child = {
        (t.name, c.name): c.generator.table for t in spec.tables for c in t.columns if c.generator.kind == "rollup"
    }
    graph: dict[str, set[str]] = {t.name: set() for t in spec.tables}
    for table in spec.tables:
        for column in table.columns:
            gen = column.generator
            if isinstance(gen, ForeignKeyGenerator):
                graph[table.name].add(gen.parent_table)
                parent = spec.table(gen.parent_table)
                read = expression_names(gen.where) if gen.where else set()
                for name in read:
                    if (parent.name, name) in rollup_child:
                        graph[table.name].add(rollup_child[(parent.name, name)])
            if gen.kind == "lookup":
                parent = spec.table(table.column(gen.via).generator.parent_table)
                child = rollup_child.get((parent.name, gen.column))
                if child and child != table.name:
                    graph[table.name].add(child)
        if table.aggregate_of:
            graph[table.name].add(table.aggregate_of)
            for (owner, _), child in rollup_child.items():
                if owner == table.aggregate_of:
                    graph[table.name].add(child)
    return graph


def _topological(graph: dict[str, set[str]]) -> list[str]:
    done: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> None:
        if node in seen:
            return
        seen.add(node)
        for dep in sorted(graph.get(node, ())):
            if dep in graph:
                visit(dep)
        done.append(node)

    for node in graph:  # spec order, so independent tables keep the author's order
        visit(node)
    return done


def _check_static_cardinality(spec: ChallengeSpec, tables: dict[str, TablePlan]) -> None:
    """Fail before generation when fixed row counts cannot meet a stated cardinality."""
    for rel in spec.relationships:
        child, parent = tables[rel.child_table], tables[rel.parent_table]
        if child.static_rows is None or parent.static_rows is None:
            continue
        if spec.table(rel.parent_table).column(rel.parent_column) is None:
            continue
        path = f"tables.{rel.child_table}.columns.{rel.child_column}"
        if rel.max_children is not None and child.static_rows > parent.static_rows * rel.max_children:
            raise GenerationError(
                f"{child.static_rows} rows cannot have at most {rel.max_children} per parent with only "
                f"{parent.static_rows} rows in '{rel.parent_table}'; raise max_children or lower the rows",
                path,
            )
        if rel.min_children and child.static_rows < parent.static_rows * rel.min_children:
            raise GenerationError(
                f"{child.static_rows} rows cannot give each of the {parent.static_rows} rows of "
                f"'{rel.parent_table}' at least {rel.min_children}; lower min_children or raise the rows",
                path,
            )
        column = spec.table(rel.child_table).column(rel.child_column)
        if column.unique and child.static_rows > parent.static_rows:
            raise GenerationError(
                f"a unique foreign key needs a parent per row, but '{rel.parent_table}' has "
                f"{parent.static_rows} rows for {child.static_rows}; drop 'unique' or lower the rows",
                path,
            )
