"""Run every dev brief through phases 1-3 and print how much of each brief the design carries.

One line per brief: domain (and whether the match is confident), schema score, questions answering on the
preview, facts carried k/n, events planted k/n, KPIs asked k/n, listed entities a table holds k/n, listed question
patterns some question shows k/n, then the misses; a last line
``briefs=N fit=F facts_pct=P events_pct=E kpis_pct=K entities_pct=T patterns_pct=Q``.

    .venv/bin/python bench/briefs.py [--file tests/fixtures/dev_briefs.yaml] [--rows 3000] [--only id,id]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-briefs-prefect-"))

import yaml  # noqa: E402

from tasks.design.carried import carried_facts, entities_found, patterns_found  # noqa: E402
from tasks.designer_offline import design_offline  # noqa: E402
from tasks.domains import match_confidence  # noqa: E402
from tasks.preview import make_preview  # noqa: E402
from tasks.schema_check import validate_schema  # noqa: E402

DEFAULT_FILE = ROOT / "tests" / "fixtures" / "dev_briefs.yaml"  # a copy of shared/briefs/dev_briefs.yaml


def run_brief(entry: dict, rows: int, seed: int) -> dict:
    design = design_offline(entry["brief"], rows=rows, seed=seed)
    spec = design.spec
    validation = validate_schema(spec)
    _, preview = make_preview(spec, 30)
    answering = sum(1 for q in preview.questions if q.answerable and (q.rows or 0) > 0)
    carried = carried_facts(spec, entry.get("facts") or {})
    entities = entities_found(spec, entry.get("entities") or [])
    patterns = patterns_found(spec, entry.get("patterns") or [])
    return {
        "id": entry.get("id", entry["brief"][:30]),
        "domain": design.domain,
        # a composed design fits by construction; a blueprint fits when its match is confident
        "confident": design.domain == "composed"
        or (match_confidence(design.matches).confident if design.matches else False),
        "score": validation.score,
        "answering": f"{answering}/{len(spec.questions)}",
        "carried": carried,
        "entities": entities,
        "patterns": patterns,
    }


def _ratio(items: list, kinds: set[str] | None = None) -> tuple[int, int]:
    chosen = [c for c in items if kinds is None or c.kind in kinds]
    return sum(c.ok for c in chosen), len(chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated brief ids")
    args = parser.parse_args()
    entries = yaml.safe_load(args.file.read_text())
    if args.only:
        wanted = set(args.only.split(","))
        entries = [e for e in entries if e.get("id") in wanted]
    totals = {"facts": [0, 0], "events": [0, 0], "kpis": [0, 0], "entities": [0, 0], "patterns": [0, 0]}
    fit = 0
    for entry in entries:
        try:
            result = run_brief(entry, args.rows, args.seed)
        except Exception as exc:  # noqa: BLE001 - a bench reports every brief
            print(f"{entry.get('id')}: CRASHED {type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
            continue
        carried = result["carried"]
        facts = _ratio(carried)
        events = _ratio(carried, {"event"})
        kpis = _ratio(carried, {"kpi"})
        entities = _ratio(result["entities"])
        patterns = _ratio(result["patterns"])
        pairs = (("facts", facts), ("events", events), ("kpis", kpis), ("entities", entities), ("patterns", patterns))
        for key, (k, n) in pairs:
            totals[key][0] += k
            totals[key][1] += n
        fit += result["confident"]
        misses = "; ".join(f"{c.kind} {c.expected} ({c.detail})" for c in carried if not c.ok)
        absent = ", ".join(c.expected for c in result["entities"] if not c.ok)
        misses += (f"; entities: {absent}" if misses else f"entities: {absent}") if absent else ""
        unasked = ", ".join(c.expected for c in result["patterns"] if not c.ok)
        misses += (f"; patterns: {unasked}" if misses else f"patterns: {unasked}") if unasked else ""
        print(
            f"{result['id']}: domain={result['domain']} confident={'yes' if result['confident'] else 'no'} "
            f"score={result['score']} answering={result['answering']} facts={facts[0]}/{facts[1]} "
            f"events={events[0]}/{events[1]} kpis={kpis[0]}/{kpis[1]} entities={entities[0]}/{entities[1]} "
            f"patterns={patterns[0]}/{patterns[1]}" + (f" | missing: {misses}" if misses else "")
        )

    def pct(key: str) -> str:
        k, n = totals[key]
        return f"{100 * k / n:.0f}" if n else "100"

    print(
        f"briefs={len(entries)} fit={fit} facts_pct={pct('facts')} events_pct={pct('events')} "
        f"kpis_pct={pct('kpis')} entities_pct={pct('entities')} patterns_pct={pct('patterns')}"
    )


if __name__ == "__main__":
    main()
