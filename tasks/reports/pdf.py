"""quality_report.pdf: cover, executive summary, problem and questions, schema with ER diagram,
table profiles, quality results by category, answer highlights; numbered pages.

Contract: built from the spec, the answer key, the table profiles and the quality report (or its
absence, which the report states instead of inventing results); never from raw rows, so its cost
does not grow with the data. Written to a temporary name, then renamed.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from schemas.profiles import DatasetProfile
from schemas.quality import QualityReport
from schemas.results import AnswerKey
from schemas.spec import ChallengeSpec
from tasks.answers import format_value
from tasks.reports import charts, findings

SECTION_TITLES = (
    "Executive summary",
    "Problem statement and questions",
    "Schema and entity-relationship diagram",
    "Table profiles",
    "Quality results by category",
    "Answer highlights",
)
NO_QUALITY = "Quality checks have not run for this dataset, so this report shows no quality results."
PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
HEADER_BG = colors.HexColor("#2f6690")
ROW_ALT = colors.HexColor("#eef3f7")


def _fonts() -> tuple[str, str]:
    """DejaVu Sans, shipped with matplotlib, so currency signs Helvetica lacks (₹, ₦, ₩) print; Helvetica
    when the files are missing."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "DejaVuSans" in pdfmetrics.getRegisteredFontNames():
        return "DejaVuSans", "DejaVuSans-Bold"
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    try:
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(folder / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(folder / "DejaVuSans-Bold.ttf")))
    except Exception:  # noqa: BLE001 - a missing font file must not stop the report
        return "Helvetica", "Helvetica-Bold"
    return "DejaVuSans", "DejaVuSans-Bold"


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    regular, bold = _fonts()

    def style(name: str, parent: str, font: str, **kw: object) -> ParagraphStyle:
        return ParagraphStyle(name, parent=base[parent], fontName=font, **kw)

    return {
        "title": style("title", "Title", bold, fontSize=24, leading=30, spaceAfter=8),
        "subtitle": style("subtitle", "Heading2", bold, alignment=TA_CENTER, textColor=HEADER_BG),
        "h1": style("h1", "Heading1", bold, fontSize=16, textColor=HEADER_BG, spaceBefore=4),
        "h2": style("h2", "Heading2", bold, fontSize=12, spaceBefore=8),
        "body": style("body", "BodyText", regular, fontSize=9.5, leading=13),
        "small": style("small", "BodyText", regular, fontSize=8, leading=10),
        "cell": style("cell", "BodyText", regular, fontSize=7.5, leading=9),
        "head": style("head", "BodyText", bold, fontSize=7.5, leading=9, textColor=colors.white),
        "center": style("center", "BodyText", regular, alignment=TA_CENTER, fontSize=10, leading=14),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(header: list[str], rows: list[list[object]], widths: list[float], styles) -> Table:
    """A wrapped, striped table whose header repeats on every page it spans."""
    total = sum(widths)
    col_widths = [CONTENT_W * w / total for w in widths]
    data = [[_p(h, styles["head"]) for h in header]] + [[_p(v, styles["cell"]) for v in row] for row in rows]
    table = Table(data, colWidths=col_widths, repeatRows=1)
    commands = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#c8d3dc")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    commands += [("BACKGROUND", (0, i), (-1, i), ROW_ALT) for i in range(2, len(data), 2)]
    table.setStyle(TableStyle(commands))
    return table


def _image(png: bytes, width: float = CONTENT_W, max_height: float = PAGE_H * 0.62) -> Image:
    pixels_w, pixels_h = ImageReader(io.BytesIO(png)).getSize()
    height = width * pixels_h / pixels_w
    if height > max_height:
        width, height = width * max_height / height, max_height
    return Image(io.BytesIO(png), width=width, height=height)


def fit_text(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut at a word with an ellipsis so it fits ``width`` points (never cut mid-word, never off the page)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    if stringWidth(text, font, size) <= width:
        return text
    words = text.split()
    while words and stringWidth(" ".join(words) + " …", font, size) > width:
        words.pop()
    return " ".join(words) + " …"


def _footer(title: str):
    def draw(canvas, doc) -> None:
        canvas.saveState()
        font = _fonts()[0]
        canvas.setFont(font, 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        # the page number takes the right end; the title keeps to the room left of it
        canvas.drawString(MARGIN, 10 * mm, fit_text(title, font, 7.5, PAGE_W - 2 * MARGIN - 30 * mm))
        canvas.drawRightString(PAGE_W - MARGIN, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()

    return draw


def build_pdf(
    spec: ChallengeSpec,
    answers: AnswerKey,
    profiles: DatasetProfile,
    quality: QualityReport | None,
    out_path: Path,
    *,
    scenarios: list[dict] | None = None,
    figures: dict[str, bytes | None] | None = None,
) -> Path:
    """Write quality_report.pdf.

    Args:
        spec: the challenge spec.
        answers: the answer key (``tasks.answers.compute_answers``).
        profiles: table profiles (``tasks.reports.profiles.profile_tables``).
        quality: the quality report, or None when quality has not run (the report says so).
        out_path: where to write the PDF (its folder is created).
        scenarios: ``measure_scenarios`` output for the stated-vs-measured chart; taken from the
            answers' scenario checks when omitted.
        figures: figures already rendered, by ``chart_jobs`` key (``render_figures``); the rest
            are rendered here.

    Returns:
        ``out_path``.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    styles = _styles()
    story: list = []
    story += _cover(spec, answers, profiles, quality, styles)
    story += _summary(spec, answers, profiles, quality, styles)
    pngs = dict(figures or {})
    jobs = chart_jobs(spec, answers, profiles, quality, scenarios)
    pngs |= charts.render_all({key: job for key, job in jobs.items() if key not in pngs})
    story += _problem(spec, styles, pngs)
    story += _schema(spec, profiles, styles, pngs)
    story += _profiles(spec, profiles, styles, pngs)
    story += _quality(quality, styles, pngs)
    story += _answers(answers, styles, pngs)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    doc = SimpleDocTemplate(
        str(tmp),
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"Quality report: {spec.challenge.title}",
        author="Data Factory",
        subject=spec.challenge.company.name,
    )
    company, title = spec.challenge.company.name, spec.challenge.title
    # a title that starts with the company ("SunGrid Energy: ...") does not repeat it
    footer = _footer(f"{title if title.startswith(company) else f'{company} · {title}'} · quality report")
    try:
        with _binary_streams():
            doc.build(story, onFirstPage=footer, onLaterPages=footer)
        os.replace(tmp, out_path)
    finally:
        tmp.unlink(missing_ok=True)
    return out_path


@contextmanager
def _binary_streams() -> Iterator[None]:
    """Write PDF streams as (compressed) binary, not ASCII85 text.

    reportlab encodes ASCII85 in pure Python unless its optional C accelerator is installed; on the
    report's images that took most of the build time, and made the file a quarter larger. Binary
    streams are plain PDF 1.x, read by every viewer.
    """
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = previous


def _scenarios_from_answers(answers: AnswerKey) -> list[dict]:
    return [
        {
            "scenario": a.scenario_check.scenario,
            "stated": a.scenario_check.stated,
            "measured": a.scenario_check.measured,
        }
        for a in answers.answers
        if a.scenario_check is not None
    ]


def render_figures(
    spec: ChallengeSpec, answers: AnswerKey, profiles: DatasetProfile, scenarios: list[dict] | None = None
) -> dict[str, bytes | None]:
    """Every figure that needs no quality report, by ``chart_jobs`` key, for ``build_pdf(figures=...)``.

    Lets the flow draw them while the quality checks still run.
    """
    return charts.render_all(chart_jobs(spec, answers, profiles, None, scenarios))


def chart_jobs(
    spec: ChallengeSpec,
    answers: AnswerKey,
    profiles: DatasetProfile,
    quality: QualityReport | None,
    scenarios: list[dict] | None,
) -> dict[str, charts.Job]:
    """Every figure of the report as a job for ``charts.render_all``, the slowest first.

    ``scenarios`` (stated vs measured, ``measure_scenarios``) are taken from the answers' scenario
    checks when None.

    Keys: difficulty, skills, er_diagram, row_counts, column_types, null_rates, ``table:<name>``,
    quality_scores and quality_findings (with a quality report), scenarios (with scenarios) and
    ``answer:<question id>`` (answered questions).
    """
    if scenarios is None:
        scenarios = _scenarios_from_answers(answers)
    jobs: dict[str, charts.Job] = {}
    # multi-panel table profiles and the diagram take longest: started first, they do not end up alone at the end
    for table in profiles.tables:
        jobs[f"table:{table.name}"] = partial(charts.table_profile_chart, table, spec.table(table.name))
    jobs["er_diagram"] = partial(charts.er_diagram, spec)
    jobs["null_rates"] = partial(charts.null_rates_chart, spec, profiles)
    jobs["skills"] = partial(charts.skills_chart, spec)
    jobs["row_counts"] = partial(charts.row_counts_chart, profiles)
    jobs["column_types"] = partial(charts.column_types_chart, spec)
    if quality is not None:
        jobs["quality_scores"] = partial(charts.quality_scores_chart, quality)
        jobs["quality_findings"] = partial(charts.quality_findings_chart, quality)
    for answer in answers.answers:
        if not answer.error:
            jobs[f"answer:{answer.question_id}"] = partial(charts.answer_chart, answer)
    if scenarios:
        jobs["scenarios"] = partial(charts.scenario_chart, scenarios)
    jobs["difficulty"] = partial(charts.difficulty_chart, spec)
    return jobs


# --------------------------------------------------------------------------- sections


def _cover(spec, answers: AnswerKey, profiles: DatasetProfile, quality, styles) -> list:
    c = spec.challenge
    facts = [
        ["Company", c.company.name],
        ["Domain", c.domain.replace("_", " ")],
        ["Stakeholder", c.stakeholder or "not stated"],
        ["Time window", f"{c.time_window.start} to {c.time_window.end}"],
        ["Difficulty", c.difficulty],
        ["Tables / rows", f"{len(spec.tables)} tables, {profiles.total_rows:,} rows"],
        ["Questions", str(len(spec.questions))],
        ["Quality verdict", _verdict(quality)],
        ["Generated", dt.date.today().isoformat()],
    ]
    return [
        Spacer(1, 45 * mm),
        _p("Data quality report", styles["subtitle"]),
        _p(c.title, styles["title"]),
        _p(c.company.profile or c.company.name, styles["center"]),
        Spacer(1, 12 * mm),
        _table(["", ""], facts, [1, 2.5], styles),
        PageBreak(),
    ]


def _verdict(quality: QualityReport | None) -> str:
    if quality is None:
        return "not run"
    return f"{quality.verdict} (score {quality.score:.1f}%, {quality.unplanned_defects} unplanned defects)"


def _summary(spec, answers: AnswerKey, profiles: DatasetProfile, quality, styles) -> list:
    answered = [a for a in answers.answers if not a.error]
    linked = [a for a in answers.answers if a.scenario_check is not None]
    checks = [a.scenario_check for a in linked]
    shown = sum(1 for check in checks if check.shown)
    story = [_p(SECTION_TITLES[0], styles["h1"]), _p(spec.challenge.problem_statement, styles["body"]), Spacer(1, 4)]
    rows = [
        [
            "Dataset",
            f"{len(spec.tables)} tables, {profiles.total_rows:,} rows, {len(spec.relationships)} relationships",
        ],
        ["Questions answered", f"{len(answered)} of {len(answers.answers)}"],
        ["Planted findings shown", f"{shown} of {len(checks)} questions linked to a scenario"],
        ["Quality", _verdict(quality) if quality else NO_QUALITY],
        ["Analyses written by", answers.analysis_source],
    ]
    story.append(_table(["Item", "Result"], rows, [1, 3], styles))
    story.append(_p("Key findings", styles["h2"]))
    for finding in findings.executive_summary(answers):
        story.append(_p(f"• {finding.question_id.upper()}: {finding.text}", styles["body"]))
    if checks:
        story.append(_p("Planted scenarios", styles["h2"]))
    for answer in linked:
        check = answer.scenario_check
        verdict = "shown" if check.shown else "not clearly shown" if check.shown is False else "undecided"
        about = check.description or check.scenario
        text = f"• {answer.question_id.upper()}: {about.rstrip('.')}. {verdict.capitalize()}: {check.evidence}."
        story.append(_p(text, styles["body"]))
    for note in answers.notes:
        story.append(_p(f"Note: {note}", styles["small"]))
    story.append(PageBreak())
    return story


def _problem(spec: ChallengeSpec, styles, pngs: dict[str, bytes | None]) -> list:
    c = spec.challenge
    story = [
        _p(SECTION_TITLES[1], styles["h1"]),
        _p(c.problem_statement, styles["body"]),
        _p(f"Stakeholder: {c.stakeholder or 'not stated'}. Target tools: {', '.join(c.target_tools)}.", styles["body"]),
        Spacer(1, 4),
    ]
    rows = [[q.id, q.text, q.difficulty, ", ".join(q.skills), q.chart, q.scenario or ""] for q in spec.questions]
    story.append(
        _table(
            ["Id", "Question", "Difficulty", "Skills", "Chart", "Scenario"], rows, [0.5, 4, 0.9, 2, 0.7, 1.2], styles
        )
    )
    story.append(Spacer(1, 6))
    story.append(_image(pngs["difficulty"], CONTENT_W * 0.7))
    story.append(_image(pngs["skills"], CONTENT_W * 0.85))
    story.append(PageBreak())
    return story


def _schema(spec: ChallengeSpec, profiles: DatasetProfile, styles, pngs: dict[str, bytes | None]) -> list:
    rows_by_table = {t.name: t.rows for t in profiles.tables}
    story = [_p(SECTION_TITLES[2], styles["h1"])]
    rows = [
        [t.name, t.role, f"{rows_by_table.get(t.name, 0):,}", len(t.columns), ", ".join(t.primary_key), t.description]
        for t in spec.tables
    ]
    story.append(
        _table(
            ["Table", "Role", "Rows", "Columns", "Primary key", "Description"],
            rows,
            [2.0, 0.9, 0.7, 0.7, 1.3, 3.0],
            styles,
        )
    )
    story.append(CondPageBreak(PAGE_H * 0.45))
    story.append(_image(pngs["er_diagram"], CONTENT_W, PAGE_H * 0.8))
    story.append(_p("Columns by table (the diagram shows the keys)", styles["h2"]))
    story.append(_table(["Table", "Columns (type)"], charts.columns_by_table(spec), [1.3, 6], styles))
    if spec.relationships:
        rel_rows = [
            [
                f"{r.child_table}.{r.child_column}",
                f"{r.parent_table}.{r.parent_column}",
                f"{r.min_children if r.min_children is not None else 0}..{r.max_children or 'n'} per parent",
            ]
            for r in spec.relationships
        ]
        story.append(CondPageBreak(40 * mm))
        story.append(_p("Relationships", styles["h2"]))
        story.append(_table(["Foreign key", "References", "Cardinality"], rel_rows, [2, 2, 1.5], styles))
    story.append(CondPageBreak(80 * mm))
    story.append(_image(pngs["row_counts"], CONTENT_W * 0.85))
    story.append(_image(pngs["column_types"], CONTENT_W * 0.85))
    story.append(PageBreak())
    return story


def _profiles(spec: ChallengeSpec, profiles: DatasetProfile, styles, pngs: dict[str, bytes | None]) -> list:
    story = [_p(SECTION_TITLES[3], styles["h1"])]
    story.append(
        _p(
            "Each profile comes from aggregate queries over the generated Parquet files: counts, null rates, "
            "exact distinct counts, ranges, means, the most common values and monthly volumes.",
            styles["body"],
        )
    )
    story.append(_image(pngs["null_rates"], CONTENT_W * 0.9))
    for table in profiles.tables:
        story.append(CondPageBreak(60 * mm))
        story.append(_p(f"{table.name} ({table.role}, {table.rows:,} rows)", styles["h2"]))
        if table.description:
            story.append(_p(table.description, styles["small"]))
        rows = []
        for column in table.columns:
            top = column.top_values[0].value if column.top_values else ""
            rows.append(
                [
                    column.name,
                    column.type + (f" ({column.unit})" if column.unit else ""),
                    f"{100 * column.null_rate:.1f}%",
                    f"{column.distinct:,}",
                    _stat(column.min, column.name, column.unit),
                    _stat(column.max, column.name, column.unit),
                    _stat(column.mean, "", column.unit),
                    top,
                ]
            )
        story.append(
            _table(
                ["Column", "Type", "Nulls", "Distinct", "Min", "Max", "Mean", "Most common"],
                rows,
                [1.6, 1.2, 0.7, 0.8, 1.1, 1.1, 1.0, 1.4],
                styles,
            )
        )
        png = pngs[f"table:{table.name}"]
        if png:
            story.append(Spacer(1, 4))
            story.append(_image(png, CONTENT_W * 0.9, PAGE_H * 0.45))
    story.append(PageBreak())
    return story


def _stat(value: object, column: str = "", unit: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:10] if value.endswith("T00:00:00") else value
    if findings.is_year(column, value):
        return str(int(float(value)))  # a year, never 2,021
    if unit == "count":
        return findings.fmt(value, None)
    return findings.fmt(value, unit) if unit else format_value(value)


def _quality(quality: QualityReport | None, styles, pngs: dict[str, bytes | None]) -> list:
    story = [_p(SECTION_TITLES[4], styles["h1"])]
    if quality is None:
        story += [_p(NO_QUALITY, styles["body"]), PageBreak()]
        return story
    story.append(
        _p(
            f"Verdict: {quality.verdict}. Overall score {quality.score:.1f}%, {quality.unplanned_defects} unplanned "
            f"defects, checks run by {quality.engine}. {_planted_text(quality)}",
            styles["body"],
        )
    )
    rows = [
        [
            c.category.replace("_", " "),
            "pass" if c.passed else "fail",
            f"{c.score:.1f}%",
            c.evaluated,
            c.failed,
            len(c.findings),
            len(c.planted),
        ]
        for c in quality.categories
    ]
    story.append(
        _table(
            ["Category", "Result", "Score", "Evaluated", "Failed", "Defects", "Planted"],
            rows,
            [2, 0.8, 0.8, 0.9, 0.8, 0.8, 0.8],
            styles,
        )
    )
    story.append(Spacer(1, 6))
    story.append(_image(pngs["quality_scores"], CONTENT_W * 0.85))
    story.append(_image(pngs["quality_findings"], CONTENT_W * 0.85))
    findings = [(f, "defect") for c in quality.categories for f in c.findings] + [
        (f, "planted") for c in quality.categories for f in c.planted
    ]
    if findings:
        story.append(CondPageBreak(40 * mm))
        story.append(_p("Findings", styles["h2"]))
        rows = [
            [
                kind,
                f.category.replace("_", " "),
                f"{f.table}.{f.column}" if f.column else f.table,
                f.message,
                f"{f.unexpected_count:,}",
                ", ".join(f.examples[:3]),
            ]
            for f, kind in findings[:40]
        ]
        story.append(
            _table(
                ["Kind", "Category", "Where", "Message", "Rows", "Examples"], rows, [0.8, 1.2, 1.5, 3, 0.6, 1.5], styles
            )
        )
        if len(findings) > 40:
            story.append(_p(f"… and {len(findings) - 40} more findings (see the Excel workbook).", styles["small"]))
    if quality.planted_missing:
        story.append(
            _p("Planted issues the checks did not find: " + "; ".join(quality.planted_missing), styles["body"])
        )
    if quality.sdv is not None:
        story += _sdv_scores(quality.sdv, styles)
    story.append(PageBreak())
    return story


def _planted_text(quality: QualityReport) -> str:
    """Planted data issues (messiness) found by the checks; planted story scenarios are reported with the answers."""
    groups = len(quality.planted_checks)
    if not groups and not quality.planted_found and not quality.planted_missing:
        return "No data issues (messiness) were planted in this dataset."
    total = groups or quality.planted_found + len(quality.planted_missing)
    return (
        f"Planted data issues (messiness): {quality.planted_found} failed expectations explained by them, "
        f"{len(quality.planted_missing)} of {total} planted issue groups not found by any check."
    )


def _sdv_scores(scores, styles) -> list:
    """Learn-from-sample mode: SDV's diagnostic and quality scores, synthetic data vs the author's sample."""
    story = [
        CondPageBreak(50 * mm),
        _p("Synthetic vs sample (SDV)", styles["h2"]),
        _p(
            f"The data was learned from the author's sample ({scores.method or 'SDV'}). SDV diagnostic score "
            f"{scores.diagnostic:.1%} (validity and structure), quality score {scores.quality:.1%} "
            "(statistical similarity to the sample).",
            styles["body"],
        ),
    ]
    properties = [[f"diagnostic: {k}", f"{v:.1%}"] for k, v in scores.diagnostic_properties.items()]
    properties += [[f"quality: {k}", f"{v:.1%}"] for k, v in scores.quality_properties.items()]
    if properties:
        story.append(_table(["Property", "Score"], properties, [3, 1], styles))
    return story


def _answers(answers: AnswerKey, styles, pngs: dict[str, bytes | None]) -> list:
    story = [_p(SECTION_TITLES[5], styles["h1"])]
    png = pngs.get("scenarios")
    if png:
        story.append(_image(png, CONTENT_W * 0.85))
    for answer in answers.answers:
        block = [_p(f"{answer.question_id.upper()}: {answer.question}", styles["h2"])]
        if answer.error:
            block.append(_p(f"Not answered: {answer.error}", styles["body"]))
            story.append(KeepTogether(block))
            continue
        for paragraph in answer.analysis.split("\n\n"):
            block.append(_p(paragraph, styles["body"]))
        columns = answer.columns[:7]
        frame = answer.frame()
        namers = {
            c: findings.label_namer(c, frame[c], answer.sql)
            for c, kind in zip(answer.columns, answer.column_types, strict=False)
            if kind == "int" and c in answer.label_columns
        }
        rows = [
            [_cell(v, answer.units.get(c), c, namers.get(c)) for c, v in zip(answer.columns, row, strict=False)][:7]
            for row in answer.rows[:8]
        ]
        block.append(Spacer(1, 3))
        block.append(_table(columns, rows, [1] * len(columns), styles))
        if answer.row_count > len(rows):
            block.append(
                _p(f"First {len(rows)} of {answer.row_count:,} rows; all rows are in the workbook.", styles["small"])
            )
        story.append(KeepTogether(block))
        png = pngs.get(f"answer:{answer.question_id}")
        if png:
            story.append(Spacer(1, 4))
            story.append(_image(png, CONTENT_W * 0.9, PAGE_H * 0.4))
    return story


def _cell(value: object, unit: str | None, column: str = "", namer=None) -> str:
    """A table cell as text: years as years, weekday/month numbers as names, money and percent formatted."""
    if namer is not None or findings.is_year(column, value):
        return findings.cell_text(value, column, namer)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return findings.fmt(value, unit)
    return findings.cell_text(value, column)
