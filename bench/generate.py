"""Benchmark: the retail blueprint with an N-row fact table (orders), vectorised vs row-wise Faker.

Run: ``.venv/bin/python bench/generate.py --rows 1000000``. The engine writes every table of the
5-table blueprint (customers, products, orders, order_items, returns) as Parquet parts and CSV to a
temporary folder; the timing covers planning, generation and all file writing. The baseline builds
the same schema (every column of the 5 tables, both scenarios) row by row with Faker and ``random``
and writes it with ``csv.writer`` (the usual hand-written generator), on a sample of at most
``--baseline-rows`` orders, and is extrapolated linearly to N (it says so).
The last line is ``rows=N seconds=S rows_per_s=R speedup_vs_rowwise=X peak_rss_mb=M``: rows of the
fact table ``orders`` per second of the whole run (all tables, all files).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import math
import os
import random
import re
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


def _gen(spec, table: str, column: str):
    return spec.table(table).column(column).generator


def rowwise_baseline(spec, orders: int, out_dir: Path, seed: int = 1) -> float:
    """Seconds to build ``orders`` orders and the proportional other tables one row at a time, and write them.

    The usual hand-written generator: Faker for names and dates, ``random`` for choices and
    distributions, Python loops and dicts, every column of the 5 tables (values, weights, regions,
    seasonality and both scenarios taken from the spec), each table written with ``csv.writer``.
    It writes CSV only (the engine also writes Parquet), so the comparison favours the baseline.
    """
    fake = Faker(spec.challenge.locale)
    fake.seed_instance(seed)
    rnd = random.Random(seed)
    window = spec.challenge.time_window
    customers_n = max(1, round(spec.table("customers").ratio * orders))
    products_n = spec.table("products").rows
    city, region, segment = (_gen(spec, "customers", c) for c in ("city", "region", "segment"))
    category, sub_category, brand = (_gen(spec, "products", c) for c in ("category", "sub_category", "brand"))
    price = _gen(spec, "products", "unit_price")
    channel, payment, status = (_gen(spec, "orders", c) for c in ("channel", "payment_method", "status"))
    order_date, fee = _gen(spec, "orders", "order_date"), _gen(spec, "orders", "shipping_fee")
    discount, reason = _gen(spec, "order_items", "discount_rate"), _gen(spec, "returns", "reason")
    days = [window.start + dt.timedelta(days=i) for i in range((window.end - window.start).days + 1)]
    day_weights = [
        order_date.month_weights[d.month - 1]
        * order_date.weekday_weights[d.weekday()]
        * (1 + order_date.trend) ** ((d - window.start).days / 365.25)
        for d in days
    ]
    started = time.perf_counter()

    def writer(name: str, header: list[str]):
        handle = (out_dir / f"{name}.csv").open("w", newline="")
        handles.append(handle)
        out = csv.writer(handle)
        out.writerow(header)
        return out

    handles: list = []
    customers = []
    out = writer("customers", [c.name for c in spec.table("customers").columns])
    for i in range(customers_n):
        first, last = fake.first_name(), fake.last_name()
        slug = [re.sub(r"[^a-z0-9]+", "", x.lower()) for x in (first, last)]
        town = rnd.choices(city.values, city.weights)[0]
        case = region.cases.get(town, region.default)
        row = [
            f"CUST-{i + 1:06d}",
            first,
            last,
            f"{slug[0]}.{slug[1]}@example.com",
            town,
            rnd.choice(case.values),
            rnd.choices(segment.values, segment.weights)[0],
            fake.date_between(dt.date(2021, 1, 1), dt.date(2024, 9, 30)),
        ]
        customers.append(row)
        out.writerow(row)
    products = []
    out = writer("products", [c.name for c in spec.table("products").columns])
    for i in range(products_n):
        cat = rnd.choices(category.values, category.weights)[0]
        p = price.cases[cat]
        unit_price = round(min(max(rnd.lognormvariate(math.log(p.median), p.sigma), p.min), p.max), 2)
        sub, make = rnd.choice(sub_category.cases[cat].values), rnd.choice(brand.values)
        row = [f"PRD-{i + 1:05d}", cat, sub, make, f"{make} {sub}", unit_price, round(unit_price * 0.58, 2)]
        products.append(row)
        out.writerow(row)
    product_weights = [1 / (rank + 1) ** 0.7 for rank in range(products_n)]
    orders_out = writer("orders", [c.name for c in spec.table("orders").columns])
    items_out = writer("order_items", [c.name for c in spec.table("order_items").columns])
    returns_out = writer("returns", [c.name for c in spec.table("returns").columns])
    line_id = returns = 0
    for i in range(orders):
        customer = rnd.choice(customers)
        when = rnd.choices(days, day_weights)[0]
        when = max(when, customer[7])
        if customer[5] == "West" and dt.date(2024, 7, 1) <= when <= dt.date(2024, 9, 30) and rnd.random() > 0.55:
            continue  # the West Q3 slump
        boost = [2.2 if v == "Mobile App" and when.year == 2024 else 1.0 for v in channel.values]
        state = rnd.choices(status.values, status.weights)[0]
        order_id = f"ORD-{i + 1:07d}"
        total = 0.0
        for _ in range(rnd.randint(1, 4)):
            line_id += 1
            product = rnd.choices(products, product_weights)[0]
            quantity = min(max(1, int(rnd.expovariate(1 / 0.7))), 10)
            rate = rnd.choices(discount.values, discount.weights)[0]
            net = round(quantity * product[5] * (1 - rate), 2)
            total += net
            items_out.writerow([line_id, order_id, product[0], quantity, product[5], rate, net])
        ship = delivery = None
        if state != "Cancelled":
            ship = when + dt.timedelta(days=round(min(rnd.lognormvariate(math.log(1.2), 0.6), 7)))
            delivery = ship + dt.timedelta(days=round(min(max(rnd.lognormvariate(math.log(3), 0.4), 1), 15)))
        orders_out.writerow(
            [
                order_id,
                customer[0],
                when,
                rnd.choices(channel.values, [w * b for w, b in zip(channel.weights, boost, strict=True)])[0],
                rnd.choices(payment.values, payment.weights)[0],
                customer[5],
                state,
                ship,
                delivery,
                rnd.choices(fee.values, fee.weights)[0],
                round(total, 2),
            ]
        )
        if state == "Returned":
            returns += 1
            back = delivery + dt.timedelta(days=round(min(max(rnd.lognormvariate(math.log(8), 0.5), 1), 30)))
            returns_out.writerow(
                [f"RET-{returns:06d}", order_id, back, rnd.choices(reason.values, reason.weights)[0], round(total, 2)]
            )
    for handle in handles:
        handle.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the fact table (orders)")
    parser.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: the engine's)")
    parser.add_argument("--baseline-rows", type=int, default=20_000, help="largest row-wise sample")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="threads the chunks fan out over (1: the plain map, whose file writes overlap the next chunk's build)",
    )
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the files")
    args = parser.parse_args()

    spec = get_blueprint("retail_ecommerce").spec.model_copy(update={"scale": args.rows})
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-generate-"))
    done_at: dict[str, float] = {}
    started = time.perf_counter()
    cpu_started = time.process_time()
    with ThreadPoolExecutor(args.workers) as pool:
        map_fn = (lambda fn, jobs: list(pool.map(fn, jobs))) if args.workers > 1 else None
        files = generate_to_files(
            spec,
            work,
            chunk_rows=args.chunk_rows,
            map_fn=map_fn,
            progress=lambda table, rows, share: done_at.__setitem__(table, time.perf_counter() - started),
        )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, count in files.row_counts.items():
        size = files.csv[name].stat().st_size / 1e6
        print(f"table={name} rows={count} csv_mb={size:.1f} last_chunk_built_at_s={done_at.get(name, 0):.2f}")
    total_rows = sum(files.row_counts.values())
    print(f"all_tables_rows={total_rows} all_tables_rows_per_s={total_rows / seconds:,.0f}")
    print(f"cpu_seconds={cpu_seconds:.2f} (all threads of this process; wall seconds={seconds:.2f})")
    for scenario in files.scenarios:
        print(f"scenario={scenario['scenario']} stated={scenario['stated']} measured={scenario['measured']}")

    sample = min(args.rows, args.baseline_rows)
    with tempfile.TemporaryDirectory(prefix="bench-rowwise-") as rowwise_dir:
        base_seconds = rowwise_baseline(spec, sample, Path(rowwise_dir))
    extrapolated = base_seconds * args.rows / sample
    note = f" (sample of {sample} orders in {base_seconds:.1f} s, extrapolated linearly)" if sample < args.rows else ""
    print(f"rowwise_seconds={extrapolated:.1f}{note}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    fact = files.row_counts["orders"]
    print(
        f"counted: fact table 'orders', {fact} rows (N={args.rows} candidates less the planted slump); seconds are "
        "the whole run: plan, all 5 tables generated, written as Parquet parts and CSV, CSVs joined"
    )
    print(
        f"rows={fact} seconds={seconds:.2f} rows_per_s={fact / seconds:.0f} "
        f"speedup_vs_rowwise={extrapolated / seconds:.1f} peak_rss_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
