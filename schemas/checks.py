"""Cross-reference checks of a challenge spec, all run, all reported at once.

Each ``_check_*`` returns problem strings of the form ``location: what is wrong; how to fix``.
Field-shape problems never reach here: pydantic rejects them first.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from schemas.errors import ExpressionError

if TYPE_CHECKING:
    from schemas.spec import ChallengeSpec, ColumnSpec, TableSpec


def collect_problems(spec: ChallengeSpec) -> list[str]:
    """Every cross-reference problem of ``spec``, in a stable order."""
    checks = (
        _check_duplicate_names,
        _check_primary_keys,
        _check_row_counts,
        _check_generators,
        _check_foreign_key_cycles,
        _check_column_dependency_cycles,
        _check_questions,
        _check_scenarios,
        _check_messiness,
    )
    problems: list[str] = []
    for check in checks:
        problems.extend(check(spec))
    return problems


def did_you_mean(name: str, options: list[str]) -> str:
    match = difflib.get_close_matches(name, options, n=1)
    return f"; did you mean '{match[0]}'?" if match else ""


def _known(kind: str, options: list[str]) -> str:
    return f"({kind} are: {', '.join(options)})"


def _col_path(table: TableSpec, column: ColumnSpec) -> str:
    return f"tables.{table.name}.columns.{column.name}"


def _duplicates(names: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]


def _check_duplicate_names(spec: ChallengeSpec) -> Iterator[str]:
    for name in _duplicates(spec.table_names):
        yield f"tables.{name}: table name '{name}' is used twice; rename one of them"
    for table in spec.tables:
        for name in _duplicates(table.column_names):
            yield f"tables.{table.name}.columns.{name}: column name '{name}' is used twice; rename one of them"
    for qid in _duplicates([q.id for q in spec.questions]):
        yield f"questions.{qid}: question id '{qid}' is used twice; give each question its own id"
    for name in _duplicates([s.name for s in spec.scenarios]):
        yield f"scenarios.{name}: scenario name '{name}' is used twice; rename one of them"


def _check_primary_keys(spec: ChallengeSpec) -> Iterator[str]:
    for table in spec.tables:
        for key in table.primary_key:
            column = table.column(key)
            if column is not None and column.nullable > 0:
                yield f"tables.{table.name}.columns.{key}: a primary-key column cannot be nullable; set nullable to 0"
            if column is None:
                yield (
                    f"tables.{table.name}.primary_key: column '{key}' does not exist "
                    f"{_known('columns', table.column_names)}{did_you_mean(key, table.column_names)}"
                )
        for group in table.unique_together:
            for key in group:
                if table.column(key) is None:
                    yield (
                        f"tables.{table.name}.unique_together: column '{key}' does not exist "
                        f"{_known('columns', table.column_names)}"
                    )


def _check_row_counts(spec: ChallengeSpec) -> Iterator[str]:
    from schemas.spec import DateSequenceGenerator, ForeignKeyGenerator

    for table in spec.tables:
        path = f"tables.{table.name}"
        if table.rows is not None and table.ratio is not None:
            yield f"{path}: give either rows or ratio, not both"
        if table.aggregate_of is not None:
            if table.aggregate_of not in spec.table_names:
                yield (
                    f"{path}.aggregate_of: source table '{table.aggregate_of}' does not exist "
                    f"{_known('tables', spec.table_names)}{did_you_mean(table.aggregate_of, spec.table_names)}"
                )
            if table.rows is not None or table.ratio is not None:
                yield f"{path}: a pre-aggregated table gets its rows from its groups; remove rows/ratio"
            continue
        if table.rows is not None or table.ratio is not None:
            continue
        drivers = [
            c
            for c in table.columns
            if isinstance(c.generator, DateSequenceGenerator)
            or (isinstance(c.generator, ForeignKeyGenerator) and c.generator.max_children is not None)
        ]
        if not drivers:
            yield (
                f"{path}: no row count; set rows, or ratio (share of the scale), or give a foreign key "
                "max_children so rows follow the parent"
            )


def _check_generators(spec: ChallengeSpec) -> Iterator[str]:
    for table in spec.tables:
        for column in table.columns:
            yield from _check_generator(spec, table, column, column.generator, _col_path(table, column))


def _check_generator(spec: ChallengeSpec, table: TableSpec, column: ColumnSpec, gen, path: str) -> Iterator[str]:  # noqa: C901
    from schemas.spec import _KIND_TYPES, ForeignKeyGenerator

    allowed_types = _KIND_TYPES.get(gen.kind)
    if allowed_types and column.type not in allowed_types:
        yield (
            f"{path}: type '{column.type}' does not fit a {gen.kind} generator; "
            f"use type {' or '.join(sorted(allowed_types))}"
        )
    same_table = table.column_names
    match gen.kind:
        case "foreign_key":
            parent_name, parent_col = gen.parent_table, gen.parent_column
            if parent_name not in spec.table_names:
                yield (
                    f"{path}: foreign key points to table '{parent_name}', which does not exist "
                    f"{_known('tables', spec.table_names)}{did_you_mean(parent_name, spec.table_names)}"
                )
                return
            parent = spec.table(parent_name)
            if parent.column(parent_col) is None:
                yield (
                    f"{path}: foreign key points to column '{parent_col}' of '{parent_name}', which does not "
                    f"exist {_known('columns', parent.column_names)}{did_you_mean(parent_col, parent.column_names)}"
                )
            elif parent.primary_key != [parent_col] and not parent.column(parent_col).unique:
                yield (
                    f"{path}: foreign key points to '{gen.references}', which is neither the primary key "
                    f"nor unique; point it at {parent_name}.{'/'.join(parent.primary_key) or '<key>'}"
                )
            if gen.where is not None:
                yield from _check_expression(gen.where, parent.column_names, parent.name, f"{path}.where")
        case "lookup":
            via = table.column(gen.via)
            if via is None or not isinstance(via.generator, ForeignKeyGenerator):
                fks = [c.name for c in table.columns if isinstance(c.generator, ForeignKeyGenerator)]
                yield (
                    f"{path}: lookup goes via '{gen.via}', which is not a foreign-key column of "
                    f"'{table.name}' {_known('foreign keys', fks or ['none'])}"
                )
            elif via.generator.parent_table in spec.table_names:
                parent = spec.table(via.generator.parent_table)
                if parent.column(gen.column) is None:
                    yield (
                        f"{path}: lookup reads column '{gen.column}' of '{parent.name}', which does not exist "
                        f"{_known('columns', parent.column_names)}{did_you_mean(gen.column, parent.column_names)}"
                    )
        case "conditional":
            if gen.on not in same_table or gen.on == column.name:
                yield (
                    f"{path}: conditional on '{gen.on}', which is not another column of '{table.name}' "
                    f"{_known('columns', same_table)}{did_you_mean(gen.on, same_table)}"
                )
            for key, case in gen.cases.items():
                yield from _check_generator(spec, table, column, case, f"{path}.cases.{key}")
            if gen.default is not None:
                yield from _check_generator(spec, table, column, gen.default, f"{path}.default")
        case "date_offset":
            yield from _check_date_reference(spec, table, gen.from_column, f"{path}.from_column")
        case "date":
            if gen.after is not None:
                yield from _check_date_reference(spec, table, gen.after, f"{path}.after")
            if gen.start and gen.end and gen.start >= gen.end:
                yield f"{path}: start {gen.start} is not before end {gen.end}"
        case "derived":
            yield from _check_expression(gen.expression, same_table, table.name, path, exclude=column.name)
        case "rollup":
            if gen.table not in spec.table_names:
                yield (
                    f"{path}: rollup over table '{gen.table}', which does not exist "
                    f"{_known('tables', spec.table_names)}{did_you_mean(gen.table, spec.table_names)}"
                )
                return
            child = spec.table(gen.table)
            via = child.column(gen.via)
            if (
                via is None
                or not isinstance(via.generator, ForeignKeyGenerator)
                or via.generator.parent_table != table.name
            ):
                yield (
                    f"{path}: rollup via '{gen.table}.{gen.via}', which is not a foreign key of "
                    f"'{gen.table}' pointing at '{table.name}'"
                )
            if gen.expression is None and gen.function != "count":
                yield f"{path}: rollup {gen.function} needs an expression over '{gen.table}' columns"
            elif gen.expression is not None:
                yield from _check_expression(gen.expression, child.column_names, child.name, path)
        case "group_key" | "measure":
            if table.aggregate_of is None:
                yield f"{path}: {gen.kind} columns belong to pre-aggregated tables; set aggregate_of on the table"
            elif table.aggregate_of in spec.table_names:
                source = spec.table(table.aggregate_of)
                if gen.expression is not None:
                    yield from _check_expression(gen.expression, source.column_names, source.name, path)
                elif gen.kind == "measure" and gen.function != "count":
                    yield f"{path}: measure {gen.function} needs an expression over '{source.name}' columns"


def resolve_date_reference(spec: ChallengeSpec, table: TableSpec, ref: str) -> ColumnSpec | None:
    """The column that ``ref`` (``col`` or ``fk_col.parent_col``) names, or None."""
    from schemas.spec import ForeignKeyGenerator

    if "." not in ref:
        return table.column(ref)
    fk_name, parent_col = ref.split(".", 1)
    fk = table.column(fk_name)
    if fk is None or not isinstance(fk.generator, ForeignKeyGenerator):
        return None
    if fk.generator.parent_table not in spec.table_names:
        return None
    return spec.table(fk.generator.parent_table).column(parent_col)


def _check_date_reference(spec: ChallengeSpec, table: TableSpec, ref: str, path: str) -> Iterator[str]:
    source = resolve_date_reference(spec, table, ref)
    if source is None:
        yield (
            f"{path}: '{ref}' is neither a date column of '{table.name}' nor '<foreign key>.<parent column>' "
            f"{_known('columns', table.column_names)}"
        )
    elif source.type not in ("date", "datetime"):
        yield f"{path}: '{ref}' is {source.type}, not a date or datetime"


def _check_expression(text: str, columns: list[str], table: str, path: str, exclude: str = "") -> Iterator[str]:
    from schemas.expressions import expression_names

    try:
        names = expression_names(text)
    except ExpressionError as exc:
        yield f"{path}: {exc.message}"
        return
    for name in sorted(names):
        if name not in columns or name == exclude:
            yield (
                f"{path}: expression {text!r} names unknown column '{name}' "
                f"{_known(f'columns of {table}', columns)}{did_you_mean(name, columns)}"
            )


def _check_foreign_key_cycles(spec: ChallengeSpec) -> Iterator[str]:
    graph = {t.name: {r.parent_table for r in spec.relationships if r.child_table == t.name} for t in spec.tables}
    for table in spec.tables:
        if table.aggregate_of:
            graph[table.name].add(table.aggregate_of)
    cycle = find_cycle(graph)
    if cycle:
        yield (
            f"tables: foreign keys form a cycle ({' -> '.join(cycle)}); a parent must exist before its "
            "children, so drop or reverse one of these keys"
        )


def _check_column_dependency_cycles(spec: ChallengeSpec) -> Iterator[str]:
    from schemas.dependencies import column_dependencies

    for table in spec.tables:
        graph = {c.name: column_dependencies(c.generator) & set(table.column_names) for c in table.columns}
        cycle = find_cycle(graph)
        if cycle:
            yield (
                f"tables.{table.name}: columns depend on each other in a cycle ({' -> '.join(cycle)}); "
                "make one of them independent"
            )


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in ``graph`` (node -> nodes it depends on) as a closed path, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def connected_components(graph: dict[str, set[str]]) -> list[set[str]]:
    """Groups of nodes linked in either direction (``graph``: node -> nodes it points at)."""
    undirected: dict[str, set[str]] = {n: set() for n in graph}
    for node, targets in graph.items():
        for target in targets:
            undirected.setdefault(target, set())
            undirected[node].add(target)
            undirected[target].add(node)
    seen: set[str] = set()
    groups = []
    for start in sorted(undirected):
        if start in seen:
            continue
        group, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node not in group:
                group.add(node)
                todo.extend(undirected[node] - group)
        seen |= group
        groups.append(group)
    return groups


def _check_questions(spec: ChallengeSpec) -> Iterator[str]:
    scenario_names = [s.name for s in spec.scenarios]
    for question in spec.questions:
        if question.scenario and question.scenario not in scenario_names:
            yield (
                f"questions.{question.id}.scenario: scenario '{question.scenario}' does not exist "
                f"{_known('scenarios', scenario_names or ['none'])}{did_you_mean(question.scenario, scenario_names)}"
            )


def _check_scenarios(spec: ChallengeSpec) -> Iterator[str]:
    for scenario in spec.scenarios:
        path = f"scenarios.{scenario.name}"
        if scenario.table not in spec.table_names:
            yield (
                f"{path}.table: table '{scenario.table}' does not exist "
                f"{_known('tables', spec.table_names)}{did_you_mean(scenario.table, spec.table_names)}"
            )
            continue
        table = spec.table(scenario.table)
        cond = scenario.condition
        if cond.date_column is not None:
            col = table.column(cond.date_column)
            if col is None or col.type not in ("date", "datetime"):
                yield f"{path}.condition.date_column: '{cond.date_column}' is not a date column of '{table.name}'"
        elif cond.start or cond.end:
            yield f"{path}.condition: a time window needs date_column"
        if cond.start and cond.end and cond.start > cond.end:
            yield f"{path}.condition: start {cond.start} is after end {cond.end}"
        if cond.where is not None:
            yield from _check_expression(cond.where, table.column_names, table.name, f"{path}.condition.where")
        effect_column = getattr(scenario.effect, "column", None)
        if effect_column is not None:
            col = table.column(effect_column)
            if col is None:
                yield (
                    f"{path}.effect.column: column '{effect_column}' does not exist in '{table.name}' "
                    f"{_known('columns', table.column_names)}{did_you_mean(effect_column, table.column_names)}"
                )
            elif scenario.effect.kind == "scale" and col.type not in ("int", "float", "decimal"):
                yield f"{path}.effect: scale needs a numeric column; '{effect_column}' is {col.type}"
            elif scenario.effect.kind == "shift_weights" and not _categorical(col.generator):
                yield (
                    f"{path}.effect: shift_weights needs a categorical column (or a conditional one whose cases are "
                    f"all categorical); '{effect_column}' is not"
                )
        if cond.start is None and cond.end is None and cond.where is None:
            yield f"{path}.condition: give a time window (date_column, start, end) or a segment (where)"


def _categorical(generator) -> bool:
    if generator.kind == "conditional":
        cases = [*generator.cases.values(), *([generator.default] if generator.default is not None else [])]
        return all(case.kind == "categorical" for case in cases)
    return generator.kind == "categorical"


def _check_messiness(spec: ChallengeSpec) -> Iterator[str]:
    for i, rule in enumerate(spec.messiness):
        path = f"messiness[{i}]"
        if rule.table not in spec.table_names:
            yield (
                f"{path}.table: table '{rule.table}' does not exist "
                f"{_known('tables', spec.table_names)}{did_you_mean(rule.table, spec.table_names)}"
            )
            continue
        table = spec.table(rule.table)
        if rule.kind == "duplicates":
            continue
        if rule.column is None:
            yield f"{path}: {rule.kind} needs a column"
        elif table.column(rule.column) is None:
            yield (
                f"{path}.column: column '{rule.column}' does not exist in '{table.name}' "
                f"{_known('columns', table.column_names)}{did_you_mean(rule.column, table.column_names)}"
            )
