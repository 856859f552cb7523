"""Story audit: blueprints x seeds x locales, and the dev briefs, through design -> generate -> quality -> answers.

Usage:
    python bench/audit.py                    # 16 blueprints x 5 seeds x en_US, en_IN + dev briefs, 3,000 rows
    python bench/audit.py --quick            # 1 seed, en_US only (and the briefs)
    python bench/audit.py --domains telecom,airline --seeds 3 --no-briefs
    python bench/audit.py --gx               # decide with the GX suites, as a run does (much slower)

Each package is built with the plain phase functions (no Prefect): ``tasks.designer.design``, the
engine's ``generate_dataset``, planted messiness (``apply_messiness``) when the spec asks for it,
``run_quality`` on the tables learners get, ``compute_answers`` on the clean ones. By default the
quality verdicts come from each check's own rule (``run_quality(gx=False)``: the rule GX applies,
without its run time).

One line per package: its name, then its defects by class: ``crash`` (the phase and the error),
``story:<check>`` (story-check failures by check), ``quality:<category>`` (other unplanned findings and
planted issues missing from the data) and ``answers`` (questions the answer key could not answer).
The last line is exactly ``packages=N crashed=C defects=D`` (the goal is C = D = 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="datafactory-audit-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

DEFAULT_BRIEFS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "dev_briefs.yaml"
LOCALES = ("en_US", "en_IN")
ROWS = 3_000


@dataclass
class Job:
    name: str
    brief: str
    domain: str | None
    seed: int
    locale: str | None


@dataclass
class Outcome:
    job: Job
    crash: str | None = None
    defects: list[tuple[str, str]] = field(default_factory=list)  # (class, text)
    seconds: float = 0.0


def jobs(domains: list[str], seeds: int, locales: tuple[str, ...], briefs: Path | None) -> list[Job]:
    out = [
        Job(f"{domain} seed={seed} {locale}", f"{domain.replace('_', ' ')} challenge", domain, seed, locale)
        for domain in domains
        for seed in range(1, seeds + 1)
        for locale in locales
    ]
    if briefs is not None:
        import yaml

        for entry in yaml.safe_load(briefs.read_text()) or []:
            out.append(Job(f"brief {entry['id']}", entry["brief"], None, 1, None))
    return out


def audit(job: Job, rows: int, gx: bool) -> Outcome:
    """One package through the phases; every failure is a defect of the package, never of the audit."""
    from tasks.answers import compute_answers
    from tasks.designer import design
    from tasks.engine import generate_dataset
    from tasks.engine.messiness import apply_messiness
    from tasks.quality import run_quality

    outcome = Outcome(job)
    started = time.perf_counter()
    phase = "design"
    try:
        spec = design(job.brief, domain=job.domain, rows=rows, seed=job.seed, locale=job.locale).spec
        phase = "generate"
        tables = generate_dataset(spec)
        shipped, log = tables, None
        if spec.messiness:
            phase = "messiness"
            shipped, log = apply_messiness(spec, tables)
        phase = "quality"
        report = run_quality(spec, shipped, issue_log=log, gx=gx)
        phase = "answers"
        answers = compute_answers(spec, tables)
    except Exception as exc:  # noqa: BLE001 - a crash is the finding
        last = traceback.extract_tb(exc.__traceback__)[-1]
        outcome.crash = f"{phase}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} " + (
            f"[{Path(last.filename).name}:{last.lineno}]"
        )
        outcome.seconds = time.perf_counter() - started
        return outcome
    for category in report.categories:
        for finding in category.findings:
            rule = finding.check_id.rsplit(":", 1)[-1].split("[", 1)[0]
            where = f"{finding.table}.{finding.column}" if finding.column else finding.table
            example = finding.examples[0] if finding.examples else finding.message
            if finding.story:
                outcome.defects.append((f"story:{rule.removeprefix('story_')}", f"{where}: {example}"))
            else:
                outcome.defects.append((f"quality:{category.category}", f"{finding.check_id}: {example}"))
    for missing in report.planted_missing:
        outcome.defects.append(("quality:planted_missing", missing))
    for answer in answers.answers:
        if answer.error:
            outcome.defects.append(("answers", f"{answer.question_id}: {answer.error}"))
    outcome.seconds = time.perf_counter() - started
    return outcome


def line(outcome: Outcome, verbose: bool) -> str:
    head = f"{outcome.job.name:<40} {outcome.seconds:5.1f}s"
    if outcome.crash:
        return f"{head} crash: {outcome.crash}"
    if not outcome.defects:
        return f"{head} ok"
    counts = Counter(cls for cls, _ in outcome.defects)
    text = f"{head} " + " ".join(f"{cls}={n}" for cls, n in sorted(counts.items()))
    shown = outcome.defects if verbose else _first_per_class(outcome.defects)
    return text + "".join(f"\n    {cls}: {detail}" for cls, detail in shown)


def _first_per_class(defects: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: set[str] = set()
    out = []
    for cls, detail in defects:
        if cls not in seen:
            seen.add(cls)
            out.append((cls, detail))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 seed, en_US only")
    parser.add_argument("--domains", help="comma-separated blueprints (default: all)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--briefs", type=Path, default=DEFAULT_BRIEFS, help="dev briefs YAML")
    parser.add_argument("--no-briefs", action="store_true", help="blueprints only")
    parser.add_argument("--gx", action="store_true", help="decide with the GX suites (as a run does)")
    parser.add_argument("--verbose", action="store_true", help="every defect, not the first of each class")
    args = parser.parse_args()

    from tasks.domains import load_blueprints

    available = sorted(load_blueprints())
    domains = available if not args.domains else [d.strip() for d in args.domains.split(",") if d.strip()]
    unknown = [d for d in domains if d not in available]
    if unknown:
        parser.error(f"unknown domain(s) {', '.join(unknown)}; available: {', '.join(available)}")
    seeds, locales = (1, ("en_US",)) if args.quick else (args.seeds, LOCALES)
    briefs = None
    if not args.no_briefs and not args.domains:
        if args.briefs.exists():
            briefs = args.briefs
        else:
            print(f"(no briefs: {args.briefs} does not exist)")
    todo = jobs(domains, seeds, locales, briefs)
    crashed = defects = 0
    classes: Counter[str] = Counter()
    for job in todo:
        outcome = audit(job, args.rows, args.gx)
        print(line(outcome, args.verbose), flush=True)
        crashed += outcome.crash is not None
        defects += len(outcome.defects)
        classes.update(cls for cls, _ in outcome.defects)
        if outcome.crash:
            classes["crash"] += 1
    if classes:
        print("by class: " + ", ".join(f"{cls}={n}" for cls, n in classes.most_common()))
    print(f"packages={len(todo)} crashed={crashed} defects={defects}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
