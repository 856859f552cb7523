"""Plain-text rendering of a ``QualityReport``: one line per category, then the findings."""

from __future__ import annotations

from schemas.quality import QualityReport


def render_report_table(report: QualityReport, max_findings: int = 20) -> str:
    """The report as a fixed-width table by category, followed by unplanned and planted findings.

    Args:
        report: from ``run_quality`` or ``validate_package``.
        max_findings: list at most this many findings of each kind.
    """
    lines = [f"{'category':<24} {'result':<6} {'score':>6} {'checks':>6} {'failed':>6} {'planted':>7}"]
    lines.append("-" * len(lines[0]))
    for c in report.categories:
        lines.append(
            f"{c.category:<24} {'pass' if c.passed else 'FAIL':<6} {c.score:>6.1f} {c.evaluated:>6} "
            f"{c.failed:>6} {len(c.planted):>7}"
        )
    lines.append("-" * len(lines[0]))
    lines.append(
        f"verdict: {report.verdict.upper()}  score {report.score:.1f}  unplanned defects {report.unplanned_defects}  "
        f"planted found {report.planted_found}  ({report.seconds:.1f} s)"
    )
    unplanned = [f for c in report.categories for f in c.findings]
    planted = [f for c in report.categories for f in c.planted]
    for title, items in (("Unplanned defects", unplanned), ("Planted (from the issue log)", planted)):
        if not items:
            continue
        lines += ["", f"{title}:"]
        for f in items[:max_findings]:
            where = f"{f.table}.{f.column}" if f.column else f.table
            lines.append(f"  [{f.category}] {where}: {f.message} ({f.unexpected_count} rows)")
            for example in f.examples[:3]:
                lines.append(f"      e.g. {example}")
        if len(items) > max_findings:
            lines.append(f"  ... and {len(items) - max_findings} more")
    if report.planted_missing:
        lines += ["", "Planted issues missing from the data:"] + [f"  {m}" for m in report.planted_missing]
    if report.planted_undetected:
        lines += ["", "Planted issues no rule flags (present in the data):"]
        lines += [f"  {m}" for m in report.planted_undetected]
    return "\n".join(lines)
