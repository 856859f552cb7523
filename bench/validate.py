"""Benchmark the 8-category quality validation on the 5-table retail challenge.

Usage: ``python bench/validate.py --rows 1000000 [--docs DIR]``. Generates the retail blueprint at
scale N (not timed), then times ``run_quality`` with GX not yet imported (its import, overlapped with the DuckDB
metrics inside ``run_quality``, is counted): each category's metrics, and the total. The last line
is exactly ``rows=N seconds=S`` (S = validation incl. GX import).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="scale: rows of the orders table")
    parser.add_argument("--docs", type=Path, default=None, help="also build the GX data docs into this folder")
    args = parser.parse_args()

    from tasks.domains import load_blueprint
    from tasks.engine import generate_dataset

    spec = load_blueprint(ROOT / "domains" / "retail_ecommerce.yaml").spec.model_copy(update={"scale": args.rows})
    started = time.perf_counter()
    tables = generate_dataset(spec)
    sizes = ", ".join(f"{name}={len(frame):,}" for name, frame in tables.items())
    print(f"generated in {time.perf_counter() - started:.1f} s (not counted): {sizes}")

    assert "great_expectations" not in sys.modules, "GX must not be imported before the timed run"
    from tasks.quality import run_quality

    started = time.perf_counter()
    # run_quality imports GX (2-4 s) in a background thread while DuckDB computes the metrics: counted here
    report = run_quality(spec, tables, data_docs_dir=args.docs)
    total = time.perf_counter() - started
    for category in report.categories:
        print(
            f"{category.category:<26} {category.seconds:7.2f} s  {category.evaluated:3d} checks  "
            f"{'pass' if category.passed else 'FAIL'}"
        )
    print(f"{'run_quality':<26} {report.seconds:7.2f} s  verdict={report.verdict}")
    print(f"rows={args.rows} seconds={total:.2f}")


if __name__ == "__main__":
    main()
