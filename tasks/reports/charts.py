"""Matplotlib figures for the quality report, each returned as PNG bytes.

Contract: every figure has a title, axis labels with units and a legend where colours carry
meaning; long labels are shortened and rotated so they do not overlap. Figures are built on
``matplotlib.figure.Figure`` (no pyplot global state), from profiles and answers only: never raw rows.

Speed: a figure is drawn once on its own Agg canvas (layout and drawing share one renderer, so text
is measured once) and encoded as an opaque RGB PNG with fast compression (the PDF compresses the
pixels again anyway). ``render_all`` spreads a report's figures over this process and forked helper
processes, one per spare CPU, and gives the same bytes as rendering them one after the other.
"""

from __future__ import annotations

import io
import os
import re
import sys
import textwrap
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # headless: reports are built on servers and in CI

import matplotlib.dates as mdates  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from PIL import Image  # noqa: E402

from schemas.profiles import ColumnProfile, DatasetProfile, TableProfile  # noqa: E402
from schemas.quality import QualityReport  # noqa: E402
from schemas.results import Answer  # noqa: E402
from schemas.spec import ChallengeSpec, ForeignKeyGenerator, TableSpec  # noqa: E402
from tasks.reports import findings  # noqa: E402

DPI = 130
PALETTE = ["#2f6690", "#3a7ca5", "#d9a441", "#81c3d7", "#7b9e89", "#c0504d", "#8064a2", "#4bacc6", "#f79646"]
# series side by side must be told apart at a glance: neighbours differ in hue, not only in shade
SERIES = ["#2f6690", "#d9a441", "#7b9e89", "#c0504d", "#8064a2", "#81c3d7", "#f79646", "#555555"]
ROLE_COLOURS = {"dimension": "#3a7ca5", "fact": "#d9a441", "bridge": "#7b9e89", "aggregate": "#8064a2"}
PASS_COLOUR, FAIL_COLOUR = "#4e9a06", "#c0504d"
MAX_BARS = 20
MAX_SLICES = 7
LABEL_CHARS = 26
_KEY_COLUMN = re.compile(r"(^id$|_id$|_key$|_sk$|_code$|_number$)", re.IGNORECASE)
_CALENDAR_COLUMN = re.compile(r"(year|month|quarter|week|day|hour|date_key)", re.IGNORECASE)


PNG_COMPRESS_LEVEL = 1  # the PNG is only a carrier: reportlab decodes it and compresses the pixels itself


def _png(fig: Figure) -> bytes:
    """Lay out and draw ``fig`` once, then encode its pixels as an opaque RGB PNG."""
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    width, height = canvas.get_width_height(physical=True)
    image = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="png", compress_level=PNG_COMPRESS_LEVEL, dpi=(DPI, DPI))
    return buffer.getvalue()


def _short(text: str, width: int = LABEL_CHARS) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _axis_name(column: str, unit: str | None) -> str:
    name = column.replace("_", " ")
    return f"{name} ({unit})" if unit else name


def _new(width: float = 7.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white", layout="constrained")
    FigureCanvasAgg(fig)
    return fig


# --------------------------------------------------------------------------- rendering many figures

Job = Callable[[], "bytes | None"]
HELPER_GRACE_SECONDS = 5.0  # at least; a helper silent for longer than this after the last job is given up


def chart_workers() -> int | None:
    """Processes that may render figures at once, or None to decide from the CPUs and how busy they are.

    ``DATAFACTORY_CHART_WORKERS`` fixes the number (1 renders everything in this process).
    """
    configured = os.environ.get("DATAFACTORY_CHART_WORKERS", "").strip()
    if not configured:
        return None
    try:
        return max(1, int(configured))
    except ValueError:
        raise ValueError(f"DATAFACTORY_CHART_WORKERS must be a whole number, got {configured!r}") from None


def render_all(jobs: dict[str, Job], workers: int | None = None) -> dict[str, bytes | None]:
    """Run every figure job and return its result under the same key.

    Jobs are handed out one at a time, in the given order (put the slowest first), to this process
    and to ``workers - 1`` forked helpers. Figures are deterministic, so the result is the same as
    running the jobs one after the other. A job a helper could not finish (it failed, died or went
    silent) runs again here, so its exception, if any, is raised here as usual; a helper's warnings
    are re-issued here.

    Args:
        jobs: key -> a function returning the figure's PNG (or None).
        workers: processes rendering at once, this one included. By default (and unless
            ``DATAFACTORY_CHART_WORKERS`` is set) one per CPU that was idle while this process
            rendered the first figure, at most 4: on a machine whose other CPUs are busy, a helper
            only competes with this process (measured: no faster, 10% more CPU).

    Helpers are forked, which is cheap and keeps every import, so they exist only on Linux; elsewhere
    (or in a process that may not have children) the jobs run here, in order.
    """
    keys = list(jobs)
    calls = [jobs[key] for key in keys]
    chosen = workers if workers is not None else chart_workers()
    adaptive = chosen is None
    if chosen is None:
        chosen = min(4, len(os.sched_getaffinity(0))) if sys.platform.startswith("linux") else 1
    helpers = min(max(1, chosen) - 1, len(calls) - 1)
    if helpers <= 0:
        return {key: call() for key, call in zip(keys, calls, strict=True)}
    results = _HelperPool(calls, helpers, adaptive).run()
    return {key: results[i] for i, key in enumerate(keys)}


def _cpu_ticks() -> tuple[int, int] | None:
    """(idle, total) clock ticks of all CPUs since boot, from /proc/stat; None where it cannot be read."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    if len(fields) < 5:
        return None
    return fields[3] + fields[4], sum(fields[:8])


class _HelperPool:
    """This process plus forked helpers pulling job indices from one counter kept here, under a lock."""

    def __init__(self, calls: list[Job], helpers: int, adaptive: bool = False) -> None:
        self.calls = calls
        self.helpers = helpers
        self.adaptive = adaptive
        self.lock = threading.Lock()
        self.next_index = 0
        self.results: dict[int, bytes | None] = {}
        self.slowest = 0.0

    def claim(self) -> int | None:
        with self.lock:
            if self.next_index >= len(self.calls):
                return None
            self.next_index += 1
            return self.next_index - 1

    def run(self) -> dict[int, bytes | None]:
        if self.adaptive:
            # how many CPUs stay idle while this process renders the first (largest) figure
            before = _cpu_ticks()
            self._render(self.claim())
            after = _cpu_ticks()
            if before and after and after[1] > before[1]:
                idle_cpus = (os.cpu_count() or 1) * (after[0] - before[0]) / (after[1] - before[1])
                self.helpers = min(self.helpers, int(idle_cpus + 0.5))
        helpers = self._start() if self.helpers > 0 else []
        try:
            while (i := self.claim()) is not None:
                self._render(i)
            deadline = time.monotonic() + max(HELPER_GRACE_SECONDS, 5 * self.slowest)
            for _, _, reader in helpers:
                reader.join(max(0.0, deadline - time.monotonic()))
        finally:
            for process, connection, reader in helpers:
                if reader.is_alive():
                    process.kill()  # failed here, or silent past the deadline: its unfinished jobs run here
                process.join(2.0)
                connection.close()
                reader.join(2.0)
        for i in range(len(self.calls)):
            if i not in self.results:
                self.results[i] = self.calls[i]()
        return self.results

    def _render(self, i: int | None) -> None:
        if i is None:
            return
        started = time.perf_counter()
        self.results[i] = self.calls[i]()
        self.slowest = max(self.slowest, time.perf_counter() - started)

    def _start(self) -> list[tuple]:
        """Fork the helpers (before the threads that serve them exist), then start one thread per helper."""
        import multiprocessing

        started = []
        try:
            context = multiprocessing.get_context("fork")
            for _ in range(self.helpers):
                here, there = context.Pipe(duplex=True)
                process = context.Process(target=_helper_main, args=(self.calls, there), daemon=True)
                try:
                    process.start()
                finally:
                    there.close()
                started.append((process, here))
        except (OSError, ValueError, AssertionError):
            pass  # no fork here, or a daemonic process may not have children: fewer (or no) helpers
        helpers = []
        for process, here in started:
            reader = threading.Thread(target=self._serve, args=(here,), name="chart-helper", daemon=True)
            reader.start()
            helpers.append((process, here, reader))
        return helpers

    def _serve(self, connection) -> None:
        """Answer one helper: store what it sends back, give it the next index (None: no more work)."""
        try:
            while True:
                message = connection.recv()
                if message is not None:
                    i, ok, value, caught = message
                    if ok:
                        self.results[i] = value
                        for text, category in caught:
                            warnings.warn(text, category, stacklevel=1)
                i = self.claim()
                connection.send(i)
                if i is None:
                    return
        except (EOFError, OSError):
            return


def _helper_main(calls: list[Job], connection) -> None:
    """In a forked helper: ask for a job index, run it, send the PNG back; until told there is no more work."""
    # Only the forking thread exists here. Matplotlib draws every figure under one class-wide lock:
    # had another thread of the parent held it at the fork, it would stay held here forever.
    Figure._render_lock = threading.RLock()
    try:
        connection.send(None)
        while (i := connection.recv()) is not None:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    value = calls[i]()
                connection.send((i, True, value, [(str(w.message), w.category) for w in caught]))
            except Exception:
                connection.send((i, False, None, []))  # run again by the parent, which raises it properly
    except (EOFError, OSError):
        pass
    finally:
        connection.close()


# --------------------------------------------------------------------------- schema


ER_WIDTH = 7.0  # inches: the PDF shows the diagram at about its own size, so 7 pt text stays 7 pt
ER_GAP = 0.5  # between layers: the channel where links run, so no line crosses a box
ER_LINE = 0.16
ER_FONT = 6.8


def calendar_links(spec: ChallengeSpec) -> list[tuple[str, str, str, str]]:
    """Date columns that join to a calendar table (one row per date, its date key the primary key).

    They are joins the questions use (``JOIN dim_date d ON d.date_key = b.check_in_date``) though
    not generated as foreign keys, so the diagram draws them too (dashed).
    """
    calendars = []
    for t in spec.tables:
        key = t.column(t.primary_key[0]) if len(t.primary_key) == 1 else None
        if t.role == "dimension" and key is not None and key.type == "date" and key.generator.kind == "date_sequence":
            calendars.append(t)
    links = []
    fks = {(r.child_table, r.child_column) for r in spec.relationships}
    for calendar in calendars:
        for table in spec.tables:
            if table.name == calendar.name:
                continue
            for column in table.columns:
                if column.type == "date" and (table.name, column.name) not in fks:
                    links.append((table.name, column.name, calendar.name, calendar.primary_key[0]))
    return links


def group_key_links(spec: ChallengeSpec) -> list[tuple[str, str, str, str]]:
    """Grouping keys of aggregate tables named like another table's primary key (``property_id``): joins too."""
    owners = {t.primary_key[0]: t.name for t in spec.tables if len(t.primary_key) == 1}
    return [
        (t.name, c.name, owners[c.name], c.name)
        for t in spec.tables
        for c in t.columns
        if c.generator.kind == "group_key" and owners.get(c.name) not in (None, t.name)
    ]


def er_diagram(spec: ChallengeSpec) -> bytes:
    """Entity-relationship diagram, readable at page size: keys only, every link drawn, no line through a box.

    One box per table lists its primary key and foreign keys (the other columns are counted; the
    PDF lists them per table). Tables are laid out in layers by dependency, parents on the left;
    every foreign key, and every date column that joins to a calendar table (dashed), is drawn as
    a link that runs only through the gaps between the layers and a lane above them.
    """
    parents: dict[str, set[str]] = {t.name: set() for t in spec.tables}
    links = [(r.child_table, r.child_column, r.parent_table, r.parent_column, False) for r in spec.relationships]
    links += [(*link, False) for link in group_key_links(spec)]
    links += [(*link, True) for link in calendar_links(spec)]
    for child, _, parent, _, _ in links:
        if parent != child:
            parents[child].add(parent)
    level: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in level:
            level[name] = 1 + max((depth(p, seen | {name}) for p in parents[name] if p not in seen), default=-1)
        return level[name]

    for table in spec.tables:
        depth(table.name)
    layers: dict[int, list[str]] = {}
    for table in spec.tables:
        layers.setdefault(level[table.name], []).append(table.name)
    n_layers = max(layers) + 1

    linked = {(c, cc) for c, cc, _, _, _ in links}
    lines: dict[str, list[str]] = {}
    for table in spec.tables:
        keys = list(table.primary_key)
        foreign = [c for c in table.column_names if (table.name, c) in linked and c not in keys]
        rest = len(table.columns) - len(keys) - len(foreign)
        shown = [f"PK {c}" if (table.name, c) not in linked else f"PK FK {c}" for c in keys]
        shown += [f"FK {c}" for c in foreign]
        if rest:
            shown.append(f"+ {rest} other column{'s' if rest != 1 else ''}")
        lines[table.name] = shown

    box_w = max(1.05, (ER_WIDTH - 0.2 - ER_GAP * (n_layers - 1)) / n_layers)
    width = 0.2 + n_layers * box_w + ER_GAP * (n_layers - 1)
    heights = {name: (len(shown) + 1.3) * ER_LINE for name, shown in lines.items()}
    gap_y = 0.22
    stack = {lv: sum(heights[n] for n in names) + gap_y * (len(names) - 1) for lv, names in layers.items()}
    skip = [link for link in links if link[0] != link[2] and level[link[0]] - level[link[2]] != 1]
    lane_h = 0.12 * (len(skip) + 1) if skip else 0.0
    body_h = max(stack.values())
    legend_h = 0.35
    height = body_h + lane_h + legend_h + 0.45
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")
    top = legend_h + body_h
    ax.text(0.1, height - 0.18, "Entity-relationship diagram (PK primary key, FK foreign key)", fontsize=8.5,
            weight="bold", va="center")  # fmt: skip
    boxes: dict[str, tuple[float, float]] = {}  # table -> (left x, top y)
    for lv, names in layers.items():
        y = top - (body_h - stack[lv]) / 2
        x = 0.1 + lv * (box_w + ER_GAP)
        for name in names:
            boxes[name] = (x, y)
            colour = ROLE_COLOURS.get(spec.table(name).role, "#555555")
            ax.add_patch(FancyBboxPatch((x, y - heights[name]), box_w, heights[name], boxstyle="round,pad=0.01",
                                        facecolor="white", edgecolor=colour, linewidth=1.2))  # fmt: skip
            ax.add_patch(FancyBboxPatch((x, y - ER_LINE * 1.15), box_w, ER_LINE * 1.15, boxstyle="round,pad=0.01",
                                        facecolor=colour, edgecolor="none"))  # fmt: skip
            chars = int(box_w / 0.052)
            ax.text(x + 0.05, y - ER_LINE * 0.58, _short(name, chars), va="center", fontsize=ER_FONT + 0.4,
                    color="white", weight="bold")  # fmt: skip
            for i, line in enumerate(lines[name]):
                style = "italic" if line.startswith("+") else "normal"
                ax.text(x + 0.05, y - ER_LINE * (1.75 + i), _short(line, chars), va="center", fontsize=ER_FONT,
                        family="monospace" if not line.startswith("+") else None, style=style)  # fmt: skip
            y -= heights[name] + gap_y

    def anchor(table: str, column: str) -> float:
        x, y = boxes[table]
        names = [line.split(" ")[-1] for line in lines[table]]
        index = names.index(column) if column in names else 0
        return y - ER_LINE * (1.75 + index)

    # every gap gets its links spread across its width, so parallel links do not overlap
    per_gap: dict[int, list[int]] = {}
    for i, (child, _, parent, _, _) in enumerate(links):
        if child == parent:
            continue
        per_gap.setdefault(level[child] - 1, []).append(i)
        if level[child] - level[parent] != 1:
            per_gap.setdefault(level[parent], []).append(i)
    skipping = [i for i, link in enumerate(links) if link[0] != link[2] and level[link[0]] - level[link[2]] != 1]
    lane_index = {i: k for k, i in enumerate(skipping)}

    def channel(gap: int, i: int) -> float:
        members = per_gap[gap]
        left = 0.1 + (gap + 1) * box_w + gap * ER_GAP
        return left + ER_GAP * (members.index(i) + 1) / (len(members) + 1)

    for i, link in enumerate(links):
        child, column, parent, parent_column, calendar = link
        style = {
            "color": "#8a8a8a" if calendar else "#444444",
            "linewidth": 0.8,
            "linestyle": "--" if calendar else "-",
        }
        cy, py = anchor(child, column), anchor(parent, parent_column)
        cx = boxes[child][0]
        px = boxes[parent][0] + box_w
        if child == parent:
            ax.plot([px, px + 0.15, px + 0.15, px], [cy, cy, py, py], **style)
            continue
        near = channel(level[child] - 1, i)
        if level[child] - level[parent] == 1:
            xs, ys = [cx, near, near, px], [cy, cy, py, py]
        else:
            lane = top + 0.12 * (lane_index[i] + 1)
            far = channel(level[parent], i)
            xs, ys = [cx, near, near, far, far, px], [cy, cy, lane, lane, py, py]
        ax.plot(xs, ys, **style)
        ax.add_patch(FancyArrowPatch((xs[-2], ys[-1]), (px, py), arrowstyle="-|>", mutation_scale=7,
                                     color=style["color"], linewidth=0.8))  # fmt: skip
    handles = []
    for role in dict.fromkeys(t.role for t in spec.tables):
        (handle,) = ax.plot([], [], color=ROLE_COLOURS.get(role, "#555555"), linewidth=5, label=f"{role} table")
        handles.append(handle)
    (fk,) = ax.plot([], [], color="#444444", linewidth=0.8, label="foreign key → parent key")
    handles.append(fk)
    if any(link[4] for link in links):
        (cal,) = ax.plot([], [], color="#8a8a8a", linewidth=0.8, linestyle="--", label="date → calendar key")
        handles.append(cal)
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 0.0), fontsize=6.5, frameon=False,
              ncol=min(len(handles), 4))  # fmt: skip
    return _png(fig)


def columns_by_table(spec: ChallengeSpec) -> list[tuple[str, str]]:
    """Every table's columns with their types, for the list beside the key-only diagram."""
    return [(t.name, ", ".join(f"{c.name} ({c.type})" for c in t.columns)) for t in spec.tables]


def column_types_chart(spec: ChallengeSpec) -> bytes:
    """Stacked bars: how many columns of each type every table has."""
    types = sorted({c.type for t in spec.tables for c in t.columns})
    names = [t.name for t in spec.tables]
    fig = _new(7, 0.5 * len(names) + 1.8)
    ax = fig.add_subplot()
    left = np.zeros(len(names))
    for i, kind in enumerate(types):
        counts = np.array([sum(c.type == kind for c in t.columns) for t in spec.tables])
        ax.barh(names, counts, left=left, color=PALETTE[i % len(PALETTE)], label=kind)
        left += counts
    ax.invert_yaxis()
    ax.set_xlabel("columns (count)")
    ax.set_ylabel("table")
    ax.set_title("Columns per table by type")
    ax.legend(title="column type", fontsize=7, title_fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)


def row_counts_chart(profile: DatasetProfile) -> bytes:
    """Rows per table; a log scale when the tables differ by more than 100 times."""
    names = [t.name for t in profile.tables]
    rows = [t.rows for t in profile.tables]
    fig = _new(7, 0.45 * len(names) + 1.6)
    ax = fig.add_subplot()
    bars = ax.barh(names, rows, color=PALETTE[0])
    ax.invert_yaxis()
    logarithmic = max(rows) > 100 * max(min(rows), 1)
    if logarithmic:
        ax.set_xscale("log")
    ax.bar_label(bars, labels=[f"{r:,}" for r in rows], padding=3, fontsize=7)
    ax.set_xlim(right=max(rows) * (4 if logarithmic else 1.18))
    ax.set_xlabel("rows (count, log scale)" if logarithmic else "rows (count)")
    ax.set_ylabel("table")
    ax.set_title("Rows per table")
    return _png(fig)


def null_rates_chart(spec: ChallengeSpec, profile: DatasetProfile, limit: int = 18) -> bytes:
    """Measured null rate per column next to the rate the spec asks for (the columns with the most nulls)."""
    entries = []
    for table in profile.tables:
        spec_table = spec.table(table.name)
        for column in table.columns:
            expected = spec_table.column(column.name).nullable if spec_table.column(column.name) else 0.0
            entries.append((f"{table.name}.{column.name}", 100 * column.null_rate, 100 * expected))
    entries.sort(key=lambda e: (-max(e[1], e[2]), e[0]))
    entries = entries[:limit]
    fig = _new(7, 0.3 * len(entries) + 1.6)
    ax = fig.add_subplot()
    y = np.arange(len(entries))
    ax.barh(y - 0.2, [e[1] for e in entries], height=0.4, color=PALETTE[0], label="measured")
    ax.barh(y + 0.2, [e[2] for e in entries], height=0.4, color=PALETTE[2], label="specified")
    ax.set_yticks(y, [_short(e[0], 34) for e in entries], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("null rate (% of rows)")
    ax.set_ylabel("column")
    ax.set_title("Missing values per column: measured vs specified")
    if not any(e[1] or e[2] for e in entries):
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "no column has missing values", transform=ax.transAxes, ha="center", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return _png(fig)


def profile_panels(table: TableProfile, spec_table: TableSpec | None = None) -> list[tuple[str, ColumnProfile]]:
    """The columns worth a profile panel: measures and categories, not keys or calendar parts.

    A surrogate key's histogram (ids spread evenly) and calendar trivia (days per month of a date
    dimension, the most common year) say nothing about the data, so they are left out.
    """
    keys: set[str] = set()
    if spec_table is not None:
        keys |= set(spec_table.primary_key)
        keys |= {c.name for c in spec_table.columns if c.unique or isinstance(c.generator, ForeignKeyGenerator)}

    def is_key(column: ColumnProfile) -> bool:
        return column.name in keys or bool(_KEY_COLUMN.search(column.name))

    def is_calendar(column: ColumnProfile) -> bool:
        return column.type == "int" and bool(_CALENDAR_COLUMN.search(column.name))

    panels: list[tuple[str, ColumnProfile]] = []
    # one row per date (a calendar) counts days per month: no volume to show
    dated = [c for c in table.columns if c.by_month and not is_key(c) and c.distinct < 0.9 * max(c.non_null, 1)]
    if dated:
        panels.append(("month", dated[0]))
    measures = [c for c in table.columns if len(c.histogram) > 1 and c.distinct > 2]
    panels += [("hist", c) for c in measures if not is_key(c) and not is_calendar(c)][:2]
    tops = sorted(
        (c for c in table.columns if len(c.top_values) > 1 and not is_key(c) and not is_calendar(c)),
        key=lambda c: (c.type != "category", c.distinct),
    )
    panels += [("top", c) for c in tops][: 4 - len(panels)]
    return panels[:4]


def table_profile_chart(table: TableProfile, spec_table: TableSpec | None = None) -> bytes | None:
    """Up to four panels for one table: monthly volume, measure distributions, most common categories."""
    panels = profile_panels(table, spec_table)
    if not panels:
        return None
    cols = 2 if len(panels) > 1 else 1
    rows = (len(panels) + 1) // 2
    fig = _new(7.2, 2.6 * rows + 0.5)
    fig.suptitle(f"Profile of {table.name} ({table.rows:,} rows)", fontsize=10)
    for i, (kind, column) in enumerate(panels):
        ax = fig.add_subplot(rows, cols, i + 1)
        if kind == "month":
            periods = pd.to_datetime([p.period + "-01" for p in column.by_month])
            ax.plot(periods, [p.count for p in column.by_month], color=PALETTE[0], marker="o", markersize=2)
            ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=6))
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
            ax.set_title(f"Rows per month by {column.name}", fontsize=8.5)
            ax.set_xlabel(f"{column.name} (month)", fontsize=7.5)
            ax.set_ylabel("rows (count)", fontsize=7.5)
        elif kind == "hist":
            lows = [b.low for b in column.histogram]
            widths = [b.high - b.low for b in column.histogram]
            ax.bar(lows, [b.count for b in column.histogram], width=widths, align="edge", color=PALETTE[1])
            ax.set_title(f"Distribution of {column.name}", fontsize=8.5)
            ax.set_xlabel(_axis_name(column.name, column.unit), fontsize=7.5)
            ax.set_ylabel("rows (count)", fontsize=7.5)
        else:
            values = [_short(v.value, 18) for v in column.top_values][::-1]
            ax.barh(values, [v.count for v in column.top_values][::-1], color=PALETTE[2])
            ax.set_title(f"Most common {column.name}", fontsize=8.5)
            ax.set_xlabel("rows (count)", fontsize=7.5)
            ax.set_ylabel(column.name.replace("_", " "), fontsize=7.5)
        ax.tick_params(labelsize=6.5)
    return _png(fig)


# --------------------------------------------------------------------------- questions and scenarios


def difficulty_chart(spec: ChallengeSpec) -> bytes:
    """Questions by difficulty."""
    order = ["easy", "medium", "hard"]
    counts = Counter(q.difficulty for q in spec.questions)
    fig = _new(5.5, 2.8)
    ax = fig.add_subplot()
    bars = ax.bar(order, [counts.get(d, 0) for d in order], color=[PALETTE[4], PALETTE[2], PALETTE[5]])
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set_xlabel("difficulty")
    ax.set_ylabel("questions (count)")
    ax.set_ylim(0, max(counts.values(), default=1) * 1.25 + 0.5)
    ax.set_title("Questions by difficulty")
    return _png(fig)


def skills_chart(spec: ChallengeSpec) -> bytes:
    """How many questions exercise each skill."""
    counts = Counter(skill for q in spec.questions for skill in q.skills)
    items = counts.most_common(15)[::-1] or [("(no skills listed)", 0)]
    fig = _new(6.5, 0.3 * len(items) + 1.5)
    ax = fig.add_subplot()
    ax.barh([s.replace("_", " ") for s, _ in items], [n for _, n in items], color=PALETTE[3])
    ax.set_xlabel("questions (count)")
    ax.set_ylabel("skill")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Skills exercised by the questions")
    return _png(fig)


def scenario_chart(scenarios: list[dict]) -> bytes | None:
    """Planted scenarios: stated vs measured effect, as ratios (1.0 = no effect)."""
    rows = [s for s in scenarios if s.get("stated") is not None or s.get("measured") is not None]
    if not rows:
        return None
    fig = _new(7, 0.55 * len(rows) + 1.6)
    ax = fig.add_subplot()
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [float(s.get("stated") or 0) for s in rows], height=0.4, color=PALETTE[2], label="stated")
    ax.barh(y + 0.2, [float(s.get("measured") or 0) for s in rows], height=0.4, color=PALETTE[0], label="measured")
    ax.axvline(1.0, color="#555555", linewidth=0.8, linestyle="--", label="no effect (1.0)")
    ax.set_yticks(y, [_short(s["scenario"], 30) for s in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("effect size (ratio inside vs outside the scenario)")
    ax.set_ylabel("scenario")
    ax.set_title("Planted scenarios: stated vs measured effect")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _png(fig)


# --------------------------------------------------------------------------- quality


def quality_scores_chart(quality: QualityReport) -> bytes:
    """Score per quality category, coloured by pass or fail."""
    names = [c.category.replace("_", " ") for c in quality.categories]
    scores = [c.score for c in quality.categories]
    colours = [PASS_COLOUR if c.passed else FAIL_COLOUR for c in quality.categories]
    fig = _new(7, 0.4 * len(names) + 1.6)
    ax = fig.add_subplot()
    bars = ax.barh(names, scores, color=colours)
    ax.bar_label(bars, labels=[f"{s:.1f}%" for s in scores], padding=3, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("expectations met (%)")
    ax.set_ylabel("category")
    ax.bar([], [], color=PASS_COLOUR, label="passed")
    ax.bar([], [], color=FAIL_COLOUR, label="failed")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(f"Quality score by category (overall {quality.score:.1f}%, verdict {quality.verdict})")
    return _png(fig)


def quality_findings_chart(quality: QualityReport) -> bytes:
    """Per category: expectations met, unplanned defects and planted issues found."""
    names = [c.category.replace("_", " ") for c in quality.categories]
    met = [max(c.evaluated - c.failed, 0) for c in quality.categories]
    defects = [len(c.findings) for c in quality.categories]
    planted = [len(c.planted) for c in quality.categories]
    fig = _new(7, 3.4)
    ax = fig.add_subplot()
    x = np.arange(len(names))
    ax.bar(x - 0.27, met, width=0.27, color=PASS_COLOUR, label="expectations met")
    ax.bar(x, defects, width=0.27, color=FAIL_COLOUR, label="unplanned defects")
    ax.bar(x + 0.27, planted, width=0.27, color=PALETTE[2], label="planted issues found")
    ax.set_xticks(x, [textwrap.fill(n, 12) for n in names], fontsize=7)
    ax.set_xlabel("category")
    ax.set_ylabel("expectations (count)")
    ax.set_title("Quality checks: met, defects and planted issues per category")
    ax.legend(fontsize=7)
    return _png(fig)


# --------------------------------------------------------------------------- answers


def answer_chart(answer: Answer) -> bytes | None:
    """The chart that fits the answer's shape (``tasks.reports.findings.answer_shape``), titled with the question.

    One line per group for a long result, clustered bars for before/after columns, sorted bars with
    rank 1 on top for rankings, shares for share questions; bars start at zero and a line's axis
    never magnifies a tiny gap. Returns None when there is nothing to draw (one row, no measure).
    """
    shape = findings.answer_shape(answer)
    if shape.kind == "none":
        return None
    if shape.kind == "scatter":
        return _scatter(answer, answer.frame(), shape)
    data = findings.chart_data(answer, shape)
    if data is None or not data.categories:
        return None
    title = shape.title
    if data.omitted:
        title += f" (largest {len(data.series) if shape.group else len(data.categories)} shown, {data.omitted} more "
        title += f"{data.omitted_what} in the workbook)"
    fig = _new(7, 3.9 if shape.kind != "ranking" else max(3.0, 0.28 * len(data.categories) + 1.4))
    ax = fig.add_subplot()
    names = list(data.series)
    value_label = _value_name(answer, shape, data)
    if shape.kind in {"line", "lines"}:
        x = np.arange(len(data.categories))
        for i, (name, values) in enumerate(data.series.items()):
            ax.plot(x, values, marker="o", markersize=2.5, color=SERIES[i % len(SERIES)], label=_short(name, 24))
        _category_ticks(ax, data.categories)
        _line_limits(ax, [v for values in data.series.values() for v in values])
        ax.set_xlabel(" · ".join(findings.human(c) for c in shape.category))
        ax.set_ylabel(value_label)
        if shape.kind == "lines":
            _legend(ax, findings.human(shape.group or ""))
    elif shape.kind == "share" and shape.pie:
        values = [max(0.0, v) if not np.isnan(v) else 0.0 for v in data.series[names[0]]]
        wedges, _texts, _pcts = ax.pie(
            values,
            colors=SERIES[: len(values)],
            autopct=lambda p: f"{p:.1f}%" if p >= 4 else "",
            pctdistance=0.75,
            textprops={"fontsize": 7, "color": "white"},
            startangle=90,
            counterclock=False,
        )
        total = sum(values) or 1.0
        ax.legend(
            wedges,
            [f"{_short(n, 28)}: {100 * v / total:.1f}%" for n, v in zip(data.categories, values, strict=True)],
            title=names[0],
            fontsize=7,
            title_fontsize=7,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
        )
        ax.set_aspect("equal")
    elif shape.kind == "stacked100":
        x = np.arange(len(data.categories))
        bottom = np.zeros(len(x))
        for i, (name, values) in enumerate(data.series.items()):
            heights = np.nan_to_num(np.array(values, dtype=float))
            ax.bar(x, heights, bottom=bottom, color=SERIES[i % len(SERIES)], label=_short(name, 24), width=0.6)
            for xi, (b, h) in enumerate(zip(bottom, heights, strict=True)):
                if h >= 6:
                    ax.text(xi, b + h / 2, f"{h:.1f}%", ha="center", va="center", fontsize=6.5, color="white")
            bottom += heights
        _category_ticks(ax, data.categories)
        ax.set_ylim(0, max(100.0, float(bottom.max()) if len(bottom) else 100.0))
        ax.set_xlabel(" · ".join(findings.human(c) for c in shape.category))
        ax.set_ylabel(value_label)
        _legend(ax, findings.human(shape.group or ""))
    elif shape.kind == "clustered":
        x = np.arange(len(data.categories))
        width = 0.8 / max(len(names), 1)
        for i, (name, values) in enumerate(data.series.items()):
            ax.bar(x - 0.4 + width * (i + 0.5), np.nan_to_num(np.array(values, dtype=float)), width=width,
                   color=SERIES[i % len(SERIES)], label=_short(name, 24))  # fmt: skip
        _category_ticks(ax, data.categories)
        ax.set_xlabel(" · ".join(findings.human(c) for c in shape.category) or "row")
        ax.set_ylabel(value_label)
        _legend(ax, findings.human(shape.group) if shape.group else "")
        _zero_line(ax, data)
    elif shape.kind in {"ranking", "share"}:
        values = np.array(data.series[names[0]], dtype=float)
        y = np.arange(len(data.categories))
        bars = ax.barh(y, np.nan_to_num(values), color=PALETTE[0])
        ax.set_yticks(y, [_short(c, 34) for c in data.categories], fontsize=7)
        ax.invert_yaxis()  # the first (rank 1, largest share) on top
        ax.bar_label(bars, labels=[_tick_text(v, data.unit) for v in values], padding=2, fontsize=6.5)
        ax.margins(x=0.15)
        ax.set_xlabel(value_label)
        ax.set_ylabel(" · ".join(findings.human(c) for c in shape.category[:2]) or "row")
        ax.xaxis.set_major_formatter(_formatter(data.unit))
        _zero_line(ax, data, vertical=True)
    else:  # bars in their own order (weekdays, hours) or the result's
        values = np.array(data.series[names[0]], dtype=float)
        x = np.arange(len(data.categories))
        bars = ax.bar(x, np.nan_to_num(values), color=PALETTE[0])
        if len(x) <= 12:
            ax.bar_label(bars, labels=[_tick_text(v, data.unit) for v in values], padding=2, fontsize=6.5)
        _category_ticks(ax, data.categories)
        ax.set_xlabel(" · ".join(findings.human(c) for c in shape.category) or "row")
        ax.set_ylabel(value_label)
        _zero_line(ax, data)
    if shape.kind not in {"ranking", "share"}:
        ax.yaxis.set_major_formatter(_formatter(data.unit))
    ax.set_title(textwrap.fill(title, 85), fontsize=8.5)
    return _png(fig)


def _value_name(answer: Answer, shape: findings.Shape, data: findings.ChartData) -> str:
    if shape.series:
        name = findings.series_name(shape.series)
    else:
        name = next(iter(data.series)) if not shape.group else findings.human(shape.measure or "")
    unit = data.unit
    if unit in {None, "count"}:
        return name
    return f"{name} ({'%' if unit == '%' else unit})"


def _tick_text(value: float, unit: str | None) -> str:
    if value is None or np.isnan(value):
        return ""
    return findings.fmt(value, unit, compact=True)


def _formatter(unit: str | None):
    from matplotlib.ticker import FuncFormatter

    def text(value: float, _position: int) -> str:
        if unit == "%":
            return f"{value:,.0f}%" if abs(value) >= 1 or value == 0 else f"{value:,.1f}%"
        if abs(value) >= 1_000_000:
            return f"{value / 1_000_000:,.1f}M"
        if abs(value) >= 10_000:
            return f"{value / 1_000:,.0f}k"
        return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:,.2f}"

    return FuncFormatter(text)


def _category_ticks(ax, categories: list[str]) -> None:
    x = np.arange(len(categories))
    step = max(1, int(np.ceil(len(categories) / 14)))
    longest = max((len(c) for c in categories[::step]), default=0)
    rotate = len(categories[::step]) > 6 or longest > 10
    ax.set_xticks(
        x[::step],
        [_short(c, 18) for c in categories[::step]],
        rotation=35 if rotate else 0,
        ha="right" if rotate else "center",
        fontsize=7,
    )


def _legend(ax, title: str) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(title=title or None, fontsize=7, title_fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))


def _zero_line(ax, data: findings.ChartData, vertical: bool = False) -> None:
    values = [v for series in data.series.values() for v in series if not np.isnan(v)]
    if values and min(values) < 0:
        (ax.axvline if vertical else ax.axhline)(0, color="#555555", linewidth=0.6)


def _line_limits(ax, values: list[float]) -> None:
    """A line's value axis: from zero for small relative swings, so a 0.02% gap does not fill the chart."""
    known = [v for v in values if not np.isnan(v)]
    if not known:
        return
    low, high = min(known), max(known)
    magnitude = max(abs(low), abs(high)) or 1.0
    if low >= 0 and (high - low) < 0.5 * magnitude:
        ax.set_ylim(0, high * 1.1 if high else 1.0)
    elif (high - low) < 0.1 * magnitude:
        middle = (high + low) / 2
        ax.set_ylim(middle - 0.1 * magnitude, middle + 0.1 * magnitude)


def _scatter(answer: Answer, frame: pd.DataFrame, shape: findings.Shape) -> bytes:
    fig = _new(7, 3.6)
    ax = fig.add_subplot()
    x_column = shape.x_measure or ""
    ax.scatter(pd.to_numeric(frame[x_column], errors="coerce"), pd.to_numeric(frame[shape.measure]), s=12)
    ax.set_xlabel(_axis_name(x_column, answer.units.get(x_column)))
    ax.set_ylabel(_axis_name(shape.measure or "", shape.unit))
    ax.set_title(textwrap.fill(shape.title, 85), fontsize=8.5)
    return _png(fig)
