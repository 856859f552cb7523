"""Benchmark phase 4's reporting steps and phase 5's packaging on the retail blueprint at a given row count.

Generates the dataset (not timed as reporting), then times the answer key, the table profiles,
the samples, the PDF, the Excel workbook and the two ZIP packages separately, ``--repeat`` times,
and prints the median of each step with the machine's load average (the steps share the CPUs
with whatever else runs). Last line: ``rows=N seconds=S`` (S = sum of the step medians).

    .venv/bin/python bench/reports.py --rows 100000 --repeat 5
    DATAFACTORY_CHART_WORKERS=1 .venv/bin/python bench/reports.py   # figures rendered in one process
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasks.answers import compute_answers  # noqa: E402
from tasks.domains import get_blueprint  # noqa: E402
from tasks.engine.output import generate_to_files  # noqa: E402
from tasks.package import build_packages  # noqa: E402
from tasks.reports.charts import chart_workers  # noqa: E402
from tasks.reports.pdf import build_pdf  # noqa: E402
from tasks.reports.profiles import profile_tables, sample_tables  # noqa: E402
from tasks.reports.workbook import build_workbook  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="scale of the retail dataset (orders)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every step; the median is reported")
    parser.add_argument("--keep", type=Path, default=None, help="write the reports here instead of a temp folder")
    args = parser.parse_args()
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    spec = get_blueprint("retail_ecommerce").spec.model_copy(update={"scale": args.rows})
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        out_dir = args.keep or Path(tmp)
        started = time.perf_counter()
        files = generate_to_files(spec, Path(tmp) / "data")
        print(f"generate: {time.perf_counter() - started:.2f} s rows={sum(files.row_counts.values()):,}", flush=True)
        print(f"chart workers: {chart_workers() or 'by idle CPUs'}; load average before: {_load()}", flush=True)
        timings: dict[str, list[float]] = {}

        def timed(name: str, step, *args, **kwargs):
            began = time.perf_counter()
            result = step(*args, **kwargs)
            timings.setdefault(name, []).append(time.perf_counter() - began)
            return result

        def package():
            shutil.rmtree(out_dir / "package", ignore_errors=True)
            return build_packages(
                spec,
                files.csv,
                out_dir / "package",
                extras={"quality_report.pdf": pdf_path, "analytical_answers.xlsx": xlsx_path},
                parquet=files.parquet,
            )

        pdf_path, xlsx_path = out_dir / "quality_report.pdf", out_dir / "analytical_answers.xlsx"
        for _ in range(args.repeat):
            answers = timed("answers", compute_answers, spec, files.parquet, scenarios=files.scenarios)
            profiles = timed("profiles", profile_tables, spec, files.parquet)
            samples = timed("samples", sample_tables, spec, files.parquet)
            timed("pdf", build_pdf, spec, answers, profiles, None, pdf_path, scenarios=files.scenarios)
            timed("excel", build_workbook, spec, answers, profiles, None, samples, xlsx_path)
            timed("package", package)
        medians = {name: statistics.median(values) for name, values in timings.items()}
        for name, values in timings.items():
            runs = " ".join(f"{v:.2f}" for v in values)
            print(f"{name:<9} median {medians[name]:6.2f} s   runs: {runs}")
        print(f"load average after: {_load()}")
        print(f"rows={args.rows} seconds={sum(medians.values()):.2f}")


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
