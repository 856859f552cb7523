"""What a reviewer sees at each gate: markdown and table artifacts built from the phase's output.

Artifact keys are kebab-case (Prefect allows lowercase letters, digits and dashes). Every attempt
at a gate publishes under its own keys, ``gate-<g>-attempt-<a>-<kind>`` (the gate's pause key plus
the kind), so versions never pile up under one key and read in time order; the descriptions say
the gate and the attempt. The spec artifact is YAML with SQL and other multi-line text as literal
block scalars, so it reads (and pastes back into the form) as written.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

import pandas as pd
import yaml
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from schemas.brief import BriefFrame
from schemas.results import PreviewCheck, SchemaValidation
from schemas.serialize import spec_to_data
from schemas.spec import ChallengeSpec

# a preview table shows this many columns; the rest are named in its description
MAX_COLUMNS = 12
ANSWER_ROWS = 5


def frame_markdown(frame: BriefFrame | None) -> list[str]:
    """ "What I read from your brief": every fact with the author's own words beside it."""
    if frame is None:
        return []
    facts = frame.facts()
    if not facts:
        return ["", "## What I read from your brief", "No company, window, place, count, event or KPI was found."]
    lines = ["", "## What I read from your brief", "| fact | value | from your words |", "|---|---|---|"]
    lines += [f"| {kind} | {value} | {source.replace('|', '/')} |" for kind, value, source in facts]
    return lines


def choice_markdown(spec: ChallengeSpec, notes: list[str]) -> list[str]:
    """Which ran, a blueprint or the composer, and why (the designer's first note says it)."""
    why = next((n for n in notes if n.startswith(("composed:", "domain ", "LOW CONFIDENCE"))), None)
    if why is None:
        return []
    if spec.challenge.domain == "composed":
        parts = next((n for n in notes if n.startswith("composed from parts:")), "")
        text = f"Composed from building blocks (domains/parts/): {why.removeprefix('composed: ')}."
        return ["", "## Blueprint or composition", text, *([f"- {parts}"] if parts else [])]
    return ["", "## Blueprint or composition", f"Blueprint {spec.challenge.domain}: {why.split(': ', 1)[-1]}."]


def problem_markdown(
    spec: ChallengeSpec, matches: list, notes: list[str], designer: str, frame: BriefFrame | None = None
) -> str:
    profile = spec.challenge
    lines = [
        f"# {profile.title}",
        f"**Company:** {profile.company.name} ({profile.company.profile})  ",
        f"**Stakeholder:** {profile.stakeholder}  ",
        f"**Time window:** {profile.time_window.start} to {profile.time_window.end}  ",
        f"**Difficulty:** {profile.difficulty} · **Locale:** {profile.locale} ({profile.currency}) · "
        f"**Seed:** {profile.seed} · **Designer:** {designer}",
        "",
        "## Problem statement",
        profile.problem_statement,
        "",
        f"## Questions ({len(spec.questions)})",
    ]
    for q in spec.questions:
        tag = f" · reveals *{q.scenario}*" if q.scenario else ""
        lines.append(f"1. **{q.text}** ({q.difficulty}; {', '.join(q.skills)}; {q.answer_shape}, {q.chart}{tag})")
    lines += frame_markdown(frame)
    lines += choice_markdown(spec, notes)
    if matches:
        from tasks.domains import MATCHING_RULE

        lines += ["", "## Domain match", "| domain | score | share | why |", "|---|---|---|---|"]
        for m in matches:
            lines.append(f"| {m.domain} | {m.score:.2f} | {m.share:.0%} | {m.explanation or '-'} |")
        lines += ["", f"*{MATCHING_RULE}*"]
    if notes:
        lines += ["", "## Feedback handling", *[f"- {n}" for n in notes]]
    return "\n".join(lines)


def schema_markdown(spec: ChallengeSpec, validation: SchemaValidation) -> str:
    lines = [
        f"# Schema: {len(spec.tables)} tables, score {validation.score}/10",
        f"*{validation.formula}*",
        "",
        "| table | role | rows | primary key | columns |",
        "|---|---|---|---|---|",
    ]
    for t in spec.tables:
        rows = t.rows if t.rows is not None else (f"{t.ratio} x {spec.scale:,}" if t.ratio else "from parents")
        lines.append(f"| {t.name} | {t.role} | {rows} | {', '.join(t.primary_key)} | {len(t.columns)} |")
    lines += ["", "## Relationships"]
    for r in spec.relationships:
        card = f" ({r.min_children or 0}..{r.max_children or 'n'} per parent)" if r.max_children else ""
        lines.append(f"- {r.child_table}.{r.child_column} -> {r.parent_table}.{r.parent_column}{card}")
    lines += ["", "## Scenarios"]
    for s in spec.scenarios:
        lines.append(f"- **{s.name}** ({s.effect.kind} in {s.table}): {s.description}")
    from tasks.messiness_plan import messiness_markdown

    lines += messiness_markdown(spec)  # the level and every rule of a data-cleaning challenge
    lines += ["", "## Questions", "| question | answerable | tables | error |", "|---|---|---|---|"]
    for q in validation.questions:
        lines.append(
            f"| {q.question_id} | {'yes' if q.answerable else 'NO'} | {', '.join(q.tables)} | {q.error or ''} |"
        )
    if validation.problems:
        lines += ["", "## Structural problems", *[f"- {p}" for p in validation.problems]]
    if validation.recommendations:
        lines += ["", "## Recommendations", *[f"- {r}" for r in validation.recommendations]]
    return "\n".join(lines)


def cell(value: Any) -> str:
    """A table cell: empty for a missing value (never ``nan``/``None``), one line, no column breaks."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):  # lists and arrays are values, not missing
        pass
    if isinstance(value, pd.Timestamp) and value == value.normalize() and value.tz is None:
        return value.date().isoformat()  # a date column read as a timestamp: no ' 00:00:00'
    return " ".join(str(value).split()).replace("|", "/")


def markdown_table(frame: pd.DataFrame, rows: int = ANSWER_ROWS, columns: int = MAX_COLUMNS) -> list[str]:
    """The first ``rows`` rows and ``columns`` columns of ``frame`` as markdown, saying what was left out."""
    shown = list(frame.columns[:columns])
    if not shown:
        return ["*(no columns)*"]
    lines = ["| " + " | ".join(cell(c) for c in shown) + " |", "|" + "---|" * len(shown)]
    for record in frame[shown].head(rows).itertuples(index=False):
        lines.append("| " + " | ".join(cell(v) for v in record) + " |")
    left = [f"{len(frame) - rows} more row(s)"] if len(frame) > rows else []
    if len(frame.columns) > columns:
        left.append(f"{len(frame.columns) - columns} more column(s)")
    if not len(frame):
        left.append("no rows")
    return lines + ([f"*{'; '.join(left)}*"] if left else [])


def check_results(spec: ChallengeSpec, check: PreviewCheck) -> list[str]:
    """Each key and type check of the preview, with its result (problems are matched to their check)."""
    problems = list(check.problems)

    def result(prefix: str, marker: str) -> str:
        found = [p for p in problems if p.startswith(prefix) and marker in p]
        for p in found:
            problems.remove(p)
        return "ok" if not found else "**FAILED**: " + "; ".join(p.removeprefix(prefix).strip() for p in found)

    lines = ["## Key and type checks", "| check | what | result |", "|---|---|---|"]
    for rel in spec.relationships:
        what = f"{rel.child_table}.{rel.child_column} -> {rel.parent_table}.{rel.parent_column}"
        lines.append(f"| foreign key | {what} | {result(f'{rel.child_table}.{rel.child_column}:', 'no parent')} |")
    for table in spec.tables:
        if table.primary_key:
            what = f"{table.name} ({', '.join(table.primary_key)})"
            lines.append(f"| primary key unique | {what} | {result(f'{table.name}:', 'primary key')} |")
    for table in spec.tables:
        lines.append(f"| types | {table.name} | {result(f'{table.name}:', 'declared types')} |")
    if problems:
        lines += ["", "Other problems:", *[f"- {p}" for p in problems]]
    return lines


def answer_frames(spec: ChallengeSpec, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame | str]:
    """Each question's answer on the preview tables (its first rows), or the error it raised."""
    from tasks.sql_sandbox import run_query, sandbox

    try:
        con = sandbox(tables, spec)
    except Exception as exc:  # noqa: BLE001 - the checks above already say what is wrong with the tables
        return {q.id: f"the preview tables could not be loaded ({str(exc).splitlines()[0]})" for q in spec.questions}
    answers: dict[str, pd.DataFrame | str] = {}
    try:
        for question in spec.questions:
            try:
                answers[question.id] = run_query(con, question.sql)
            except Exception as exc:  # noqa: BLE001 - shown beside the question
                answers[question.id] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    finally:
        con.close()
    return answers


def preview_markdown(
    check: PreviewCheck,
    spec: ChallengeSpec | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
    notes: list[str] | None = None,
) -> str:
    """Gate 3: rows per table, every key and type check, and each question's first answer rows."""
    lines = ["# Preview", "| table | rows | columns |", "|---|---|---|"]
    lines += [
        f"| {t} | {n} | {len(tables[t].columns) if tables and t in tables else ''} |"
        for t, n in check.row_counts.items()
    ]
    if spec is not None:
        lines += ["", *check_results(spec, check)]
    elif check.problems:
        lines += ["", "## Problems", *[f"- {p}" for p in check.problems]]
    answers = answer_frames(spec, tables) if spec is not None and tables is not None else {}
    texts = {q.id: q.text for q in spec.questions} if spec is not None else {}
    lines += ["", "## Questions on the preview"]
    for q in check.questions:
        status = f"runs, {q.rows or 0} row(s)" if q.answerable else f"**FAILS**: {q.error or 'no reason given'}"
        lines += ["", f"### {q.question_id}: {texts.get(q.question_id, '')}".rstrip(": "), status]
        answer = answers.get(q.question_id)
        if isinstance(answer, pd.DataFrame):
            lines += ["", *markdown_table(answer)]
    if notes:
        lines += ["", "## Feedback handling", *[f"- {n}" for n in notes]]
    return "\n".join(lines)


def artifact_key(gate: int, attempt: int, kind: str) -> str:
    """``gate-<g>-attempt-<a>-<kind>``: the gate's pause key and what the artifact shows (at most 100 chars)."""
    return f"gate-{gate}-attempt-{attempt}-{kind.replace('_', '-').lower()}"[:100]


def version(gate: int, attempt: int) -> str:
    from flows.gates import GATES

    return f"Gate {gate} ({GATES[gate]}), attempt {attempt + 1}"


class _Literal(str):
    """A string dumped as a YAML literal block (``|``): SQL keeps its lines instead of escapes."""


class _ReadableDumper(yaml.SafeDumper):
    pass


_ReadableDumper.add_representer(
    _Literal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")
)


def _literal_blocks(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _literal_blocks(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_literal_blocks(v, key) for v in value]
    if isinstance(value, str) and ("\n" in value.strip() or (key == "sql" and len(value) > 60)):
        # the value is kept as it is: where a block cannot hold it (e.g. trailing spaces), YAML quotes it
        return _Literal(value)
    return value


def readable_yaml(spec: ChallengeSpec) -> str:
    """The spec as YAML a person reads and edits: SQL and multi-line text as literal blocks."""
    return yaml.dump(
        _literal_blocks(spec_to_data(spec)),
        Dumper=_ReadableDumper,
        sort_keys=False,
        allow_unicode=True,
        width=110,
    )


def publish_spec(spec: ChallengeSpec, gate: int, attempt: int = 0) -> None:
    create_markdown_artifact(
        key=artifact_key(gate, attempt, "spec"),
        markdown=f"```yaml\n{readable_yaml(spec)}```",
        description=f"{version(gate, attempt)}: the challenge spec; copy, edit and paste it into spec_yaml",
    )


def publish_refusal(gate: int, attempt: int, error: str) -> None:
    """Why the edit sent at the previous attempt was refused; the gate reopens on the reviewed spec."""
    create_markdown_artifact(
        key=artifact_key(gate, attempt, "edit-refused"),
        markdown=(
            "# The edited spec was refused\n\nThe reviewed spec is kept unchanged and shown again in this "
            f"attempt's artifacts.\n\n```\n{error}\n```\n\nFix the YAML and submit it again, or decide on the "
            "spec shown."
        ),
        description=f"{version(gate, attempt)}: your edited spec was refused",
    )


def published_keys(flow_run_id: str | uuid.UUID | None) -> set[str]:
    """Keys of the artifacts this run already published (a suspended run that starts again skips them)."""
    if not flow_run_id or flow_run_id == "local":
        return set()
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(str(flow_run_id))]))
        )
    return {a.key for a in found if a.key}


def publish_problem(
    spec: ChallengeSpec,
    matches: list,
    notes: list[str],
    designer: str,
    frame: BriefFrame | None = None,
    attempt: int = 0,
) -> None:
    create_markdown_artifact(
        key=artifact_key(1, attempt, "problem"),
        markdown=problem_markdown(spec, matches, notes, designer, frame),
        description=version(1, attempt),
    )
    publish_spec(spec, 1, attempt)


def feedback_section(notes: list[str]) -> str:
    return "\n\n## Feedback handling\n" + "\n".join(f"- {n}" for n in notes) if notes else ""


def publish_schema(
    spec: ChallengeSpec, validation: SchemaValidation, attempt: int = 0, notes: list[str] | None = None
) -> None:
    create_markdown_artifact(
        key=artifact_key(2, attempt, "schema"),
        markdown=schema_markdown(spec, validation) + feedback_section(notes or []),
        description=f"{version(2, attempt)}: score {validation.score}/10",
    )
    rows = [
        {
            "table": t.name,
            "column": c.name,
            "type": c.type,
            "unit": c.unit or "",
            "generator": c.generator.kind,
            "nullable": c.nullable,
            "description": c.description,
        }
        for t in spec.tables
        for c in t.columns
    ]
    create_table_artifact(
        key=artifact_key(2, attempt, "columns"), table=rows, description=f"{version(2, attempt)}: columns per table"
    )
    publish_spec(spec, 2, attempt)


def preview_records(frame: pd.DataFrame, rows: int = 30, columns: int = MAX_COLUMNS) -> list[dict[str, str]]:
    """A preview table's first rows as artifact records: empty cells for missing values, ``columns`` at most."""
    shown = list(frame.columns[:columns])
    return [{str(c): cell(v) for c, v in zip(shown, record, strict=True)} for record in frame[shown].head(rows).values]


def publish_preview(
    spec: ChallengeSpec, tables: dict, check: PreviewCheck, attempt: int = 0, notes: list[str] | None = None
) -> None:
    create_markdown_artifact(
        key=artifact_key(3, attempt, "preview"),
        markdown=preview_markdown(check, spec, tables, notes),
        description=f"{version(3, attempt)}: {'checks passed' if check.passed else 'checks FAILED'}",
    )
    for name, frame in tables.items():
        hidden = list(frame.columns[MAX_COLUMNS:])
        more = f"; {len(hidden)} more column(s) not shown: {', '.join(map(str, hidden))}" if hidden else ""
        create_table_artifact(
            key=artifact_key(3, attempt, f"table-{name}"),
            table=preview_records(frame),
            description=f"{version(3, attempt)}: {name}, first rows{more}",
        )
    publish_spec(spec, 3, attempt)


def publish_package(stored: dict[str, str], challenge_id: str, flow_run_id: str) -> None:
    """Where the package is and how to get it: the presigned link on S3; on local storage the path and the
    ``datafactory download`` command (browsers refuse ``file://`` links from a web page)."""
    full = stored["full"]
    if full.startswith("s3://"):
        create_link_artifact(
            key="package-link",
            link=stored["url"],
            link_text=full.rsplit("/", 1)[-1],
            description=f"Package of {challenge_id}: a presigned link that expires (`datafactory download` renews it)",
        )
        fetch = f"datafactory download {flow_run_id}"
    else:
        path = full.removeprefix("file://")
        fetch = f"datafactory download {flow_run_id} --to ."
        create_markdown_artifact(
            key="package-link",
            markdown=(
                f"# Package of {challenge_id}\n\nThe package is a file on the machine that ran the flow:\n\n"
                f"```\n{path}\n```\n\nCopy it from there, or fetch it with the command below (run it where "
                f"Prefect's API is reachable, on the same machine for local storage):\n\n```\n{fetch}\n```"
            ),
            description=f"Package of {challenge_id}: local path and download command",
        )
    create_markdown_artifact(
        key="package-location",
        markdown=(
            f"full: `{stored['full']}`\n\nlearner: `{stored['learner']}`\n\nkey: `{stored['key']}`\n\n"
            f"fetch with: `{fetch}`"
        ),
        description="Where the packages are stored",
    )


def publish_quality(report) -> None:
    """The 8 categories and every unplanned defect, for the person who reads the run."""
    from tasks.quality import render_report_table

    create_markdown_artifact(
        key="quality-report",
        markdown=f"# Quality: {report.verdict.upper()}\n\n```\n{render_report_table(report)}\n```",
        description=f"8 quality categories: {report.verdict}, {report.unplanned_defects} unplanned defect(s)",
    )
    rows = [
        {
            "category": c.category,
            "passed": c.passed,
            "score": c.score,
            "checks": c.evaluated,
            "failed": c.failed,
            "planted": len(c.planted),
        }
        for c in report.categories
    ]
    create_table_artifact(key="quality-categories", table=rows, description="Quality by category")
