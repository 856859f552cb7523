"""Resolve a validated spec once into a frozen plan: table order, column order, row-count rules.

The engine runs the plan and never re-validates the spec; ``generate`` checks the plan came from
the same spec by its fingerprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    return ResolvedPlan(spec_fingerprint(spec), tuple(order), tables, {k: tuple(v) for k, v in rollups.items()})


def _plan_table(spec: ChallengeSpec, table: TableSpec) -> TablePlan:
    foreign_keys = tuple(c.name for c in table.columns if isinstance(c.generator, ForeignKeyGenerator))
    graph = {c.name: column_dependencies(c.generator) & set(table.column_names) for c in table.columns}
    volume: list[str] = []
    for scenario in spec.scenarios:
        if scenario.table != table.name:
            continue
        needs = _condition_columns(scenario) & set(table.column_names)
        if scenario.effect.kind == "volume":
            volume.append(scenario.name)
        else:
            graph[scenario.effect.column] |= needs - {scenario.effect.column}
    cycle = find_cycle(graph)
    if cycle:
        raise SpecError(
            f"tables.{table.name}: a scenario condition reads a column computed from its effect "
            f"({' -> '.join(cycle)}); condition on an independent column"
        )
    order = [c for c in _topological(graph) if c not in foreign_keys]
    calendar = next((c.name for c in table.columns if isinstance(c.generator, DateSequenceGenerator)), None)
    driver = None
    static = None
    if table.rows is not None:
        static = table.rows
    elif table.ratio is not None:
        static = max(1, round(table.ratio * spec.scale))
    elif table.aggregate_of is None and calendar is None:
        driver = next(c for c in foreign_keys if table.column(c).generator.max_children is not None)
    return TablePlan(table.name, (*foreign_keys, *order), foreign_keys, static, driver, calendar, tuple(volume))


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
