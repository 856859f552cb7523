"""End-to-end benchmark: one auto-approved challenge from brief to ZIP, seconds per phase and step.

Usage: python bench/e2e.py --rows 100000 [--domain retail_ecommerce] [--seed 7]

Runs the real challenge flow (Prefect, ephemeral server) on the retail blueprint (5 tables) with
an N-row fact table. Prints the seconds of each phase and of each step of phases 4 and 5, and a
baseline figure for comparison (the system this project replaces: about 120 s for 100,000 rows,
scaled linearly). The last line is exactly ``rows=N seconds=S`` where S covers phases 4 and 5
(generation, quality, answers, PDF, Excel, package, storage); Prefect's start-up is not counted.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="datafactory-bench-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

BASELINE_SECONDS_PER_100K = 120.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--domain", default="retail_ecommerce")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", help="output folder (default: a temporary folder)")
    args = parser.parse_args()

    from flows.challenge import challenge_flow
    from flows.events import listen

    marks: list[tuple[str, float, dict]] = []
    listen(lambda event, data: marks.append((event, time.perf_counter(), data)))
    out = args.out or tempfile.mkdtemp(prefix="datafactory-bench-")
    start = time.perf_counter()
    result = challenge_flow(
        brief=f"bench {args.domain}",
        domain=args.domain,
        rows=args.rows,
        seed=args.seed,
        approval="auto",
        output_dir=out,
    )
    total = time.perf_counter() - start

    started = next(t for e, t, _ in marks if e == "run-started")
    phase_end = {d["phase"]: t for e, t, d in marks if e == "phase-done"}
    previous = started
    print(f"domain={args.domain} rows={args.rows:,} (fact table) tables={result.row_counts}")
    for phase in sorted(phase_end):
        print(f"phase {phase}: {phase_end[phase] - previous:7.2f} s")
        previous = phase_end[phase]
    for event, _, data in marks:
        if event == "step-done":
            print(f"  step {data['step']:<10} {data['seconds']:7.2f} s")
    measured = phase_end[5] - phase_end[3]
    baseline = BASELINE_SECONDS_PER_100K * args.rows / 100_000
    print(f"flow total (incl. Prefect start-up and phases 1-3): {total:.2f} s")
    speedup = baseline / measured
    print(f"baseline (replaced system, ~120 s per 100,000 rows): {baseline:.1f} s -> speed-up x{speedup:.1f}")
    print(f"package: {result.package}")
    print(f"rows={args.rows} seconds={measured:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
