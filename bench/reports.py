"""Benchmark phase 4's reporting steps on the retail blueprint at a given row count.

Generates the dataset (not timed as reporting), then times the answer key, the table profiles,
the PDF and the Excel workbook separately. Last line: ``rows=N seconds=S`` (S = reporting total).

    .venv/bin/python bench/reports.py --rows 100000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.answers import compute_answers  # noqa: E402
from tasks.domains import get_blueprint  # noqa: E402
from tasks.engine.output import generate_to_files  # noqa: E402
from tasks.profiles import profile_tables, sample_tables  # noqa: E402
from tasks.report_excel import build_workbook  # noqa: E402
from tasks.report_pdf import build_pdf  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="scale of the retail dataset (orders)")
    parser.add_argument("--keep", type=Path, default=None, help="write the reports here instead of a temp folder")
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    spec = get_blueprint("retail_ecommerce").spec.model_copy(update={"scale": args.rows})
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        out_dir = args.keep or Path(tmp)
        started = time.perf_counter()
        files = generate_to_files(spec, Path(tmp) / "data")
        print(f"generate: {time.perf_counter() - started:.2f} s rows={sum(files.row_counts.values()):,}", flush=True)
        timings: dict[str, float] = {}

        def timed(name: str, step):
            began = time.perf_counter()
            result = step()
            timings[name] = time.perf_counter() - began
            print(f"{name}: {timings[name]:.2f} s", flush=True)
            return result

        answers = timed("answers", lambda: compute_answers(spec, files.parquet, scenarios=files.scenarios))
        profiles = timed("profiles", lambda: profile_tables(spec, files.parquet))
        samples = timed("samples", lambda: sample_tables(spec, files.parquet))
        timed(
            "pdf",
            lambda: build_pdf(spec, answers, profiles, None, out_dir / "quality_report.pdf", scenarios=files.scenarios),
        )
        timed(
            "excel", lambda: build_workbook(spec, answers, profiles, None, samples, out_dir / "analytical_answers.xlsx")
        )
        print(f"rows={args.rows} seconds={sum(timings.values()):.2f}")


if __name__ == "__main__":
    main()
