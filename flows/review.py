"""What a reviewer sees at each gate: markdown and table artifacts built from the phase's output.

Artifact keys are stable and kebab-case (Prefect allows lowercase letters, digits and dashes).
"""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from schemas.results import PreviewCheck, SchemaValidation
from schemas.serialize import spec_to_yaml
from schemas.spec import ChallengeSpec


def problem_markdown(spec: ChallengeSpec, matches: list, notes: list[str], designer: str) -> str:
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


def preview_markdown(check: PreviewCheck) -> str:
    lines = ["# Preview", "| table | rows |", "|---|---|"]
    lines += [f"| {t} | {n} |" for t, n in check.row_counts.items()]
    lines += ["", "## Questions on the preview", "| question | runs | rows | error |", "|---|---|---|---|"]
    for q in check.questions:
        lines.append(f"| {q.question_id} | {'yes' if q.answerable else 'NO'} | {q.rows or 0} | {q.error or ''} |")
    if check.problems:
        lines += ["", "## Problems", *[f"- {p}" for p in check.problems]]
    return "\n".join(lines)


def publish_spec(spec: ChallengeSpec, gate: int) -> None:
    create_markdown_artifact(
        key="challenge-spec",
        markdown=f"```yaml\n{spec_to_yaml(spec)}```",
        description=f"The challenge spec at gate {gate}; copy, edit and paste into spec_yaml to change it",
    )


def publish_problem(spec: ChallengeSpec, matches: list, notes: list[str], designer: str) -> None:
    create_markdown_artifact(
        key="gate-1-problem",
        markdown=problem_markdown(spec, matches, notes, designer),
        description="Gate 1: problem statement and questions",
    )
    publish_spec(spec, 1)


def publish_schema(spec: ChallengeSpec, validation: SchemaValidation) -> None:
    create_markdown_artifact(
        key="gate-2-schema", markdown=schema_markdown(spec, validation), description="Gate 2: schema and validation"
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
    create_table_artifact(key="gate-2-columns", table=rows, description="Columns per table")
    publish_spec(spec, 2)


def publish_preview(spec: ChallengeSpec, tables: dict, check: PreviewCheck) -> None:
    create_markdown_artifact(key="gate-3-preview", markdown=preview_markdown(check), description="Gate 3: preview")
    for name, frame in tables.items():
        key = "preview-" + name.replace("_", "-")
        create_table_artifact(
            key=key[:100], table=frame.head(30).astype(str).to_dict(orient="records"), description=f"Preview of {name}"
        )
    publish_spec(spec, 3)


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
