"""Benchmark: the retail blueprint with an N-row fact table (orders), vectorised vs row-wise Faker.

Run: ``.venv/bin/python bench/generate.py --rows 1000000``. The engine writes every table of the
5-table blueprint (customers, products, orders, order_items, returns) as Parquet parts and CSV to a
temporary folder; the timing covers planning, generation and all file writing. The baseline builds
the same schema row by row with Faker and ``random`` (the usual hand-written generator), on a
sample of at most ``--baseline-rows`` orders, and is extrapolated linearly to N (it says so).
The last line is ``rows=N seconds=S rows_per_s=R speedup_vs_rowwise=X peak_rss_mb=M``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))

from faker import Faker  # noqa: E402

from tasks.domains import get_blueprint  # noqa: E402
from tasks.engine.output import generate_to_files  # noqa: E402


def rowwise_baseline(spec, orders: int, seed: int = 1) -> float:
    """Seconds to build ``orders`` orders (and the proportional other tables) one row at a time."""
    fake = Faker(spec.challenge.locale)
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    customers_n = max(1, round(spec.table("customers").ratio * orders))
    products_n = spec.table("products").rows
    city_gen = spec.table("customers").column("city").generator
    started = time.perf_counter()
    customers = []
    for i in range(customers_n):
        first, last = fake.first_name(), fake.last_name()
        customers.append(
            {
                "customer_id": f"CUST-{i + 1:06d}",
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}@example.com",
                "city": rnd.choices(city_gen.values, city_gen.weights)[0],
                "segment": rnd.choice(["Consumer", "Small Business", "Corporate"]),
                "signup_date": fake.date_between("-4y", "-3m"),
            }
        )
    products = [
        {
            "product_id": f"PRD-{i + 1:05d}",
            "category": rnd.choice(["Electronics", "Fashion", "Books"]),
            "unit_price": round(rnd.lognormvariate(3.5, 0.7), 2),
        }
        for i in range(products_n)
    ]
    items, returns, line_id = [], [], 0
    orders_rows = []
    for i in range(orders):
        customer = rnd.choice(customers)
        order_date = fake.date_between(customer["signup_date"], "today")
        status = rnd.choices(["Delivered", "Returned", "Cancelled"], [0.86, 0.08, 0.06])[0]
        total = 0.0
        for _ in range(rnd.randint(1, 4)):
            line_id += 1
            product = rnd.choice(products)
            quantity = max(1, int(rnd.expovariate(1.0)))
            discount = rnd.choice([0.0, 0.05, 0.1, 0.15, 0.2])
            net = round(quantity * product["unit_price"] * (1 - discount), 2)
            total += net
            items.append((line_id, f"ORD-{i + 1:07d}", product["product_id"], quantity, discount, net))
        orders_rows.append(
            (
                f"ORD-{i + 1:07d}",
                customer["customer_id"],
                order_date,
                rnd.choice(["Website", "Mobile App"]),
                status,
                round(total, 2),
            )
        )
        if status == "Returned":
            returns.append((f"RET-{len(returns) + 1:06d}", f"ORD-{i + 1:07d}", rnd.choice(["Wrong size", "Damaged"])))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the fact table (orders)")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: the engine's)")
    parser.add_argument("--baseline-rows", type=int, default=20_000, help="largest row-wise sample")
    parser.add_argument("--workers", type=int, default=2, help="threads the chunks fan out over (1: plain map)")
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args()

    spec = get_blueprint("retail_ecommerce").spec.model_copy(update={"scale": args.rows})
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    started = time.perf_counter()
    with ThreadPoolExecutor(args.workers) as pool:
        map_fn = (lambda fn, jobs: list(pool.map(fn, jobs))) if args.workers > 1 else None
        files = generate_to_files(spec, work, chunk_rows=args.chunk_rows, map_fn=map_fn)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, count in files.row_counts.items():
        size = files.csv[name].stat().st_size / 1e6
        print(f"table={name} rows={count} csv_mb={size:.1f}")
    total_rows = sum(files.row_counts.values())
    print(f"all_tables_rows={total_rows} all_tables_rows_per_s={total_rows / seconds:,.0f}")
    for scenario in files.scenarios:
        print(f"scenario={scenario['scenario']} stated={scenario['stated']} measured={scenario['measured']}")

    sample = min(args.rows, args.baseline_rows)
    base_seconds = rowwise_baseline(spec, sample)
    extrapolated = base_seconds * args.rows / sample
    note = f" (sample of {sample} orders, extrapolated linearly)" if sample < args.rows else ""
    print(f"rowwise_seconds={extrapolated:.1f}{note}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    fact = files.row_counts["orders"]
    print(
        f"rows={fact} seconds={seconds:.2f} rows_per_s={fact / seconds:.0f} "
        f"speedup_vs_rowwise={extrapolated / seconds:.1f} peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
