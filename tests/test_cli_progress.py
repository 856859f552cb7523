"""The CLI's generation bar moves with every chunk and counts whole tables."""

from __future__ import annotations

from flows.cli import _printer


def test_the_bar_sums_each_tables_share_and_stops_at_the_next_event() -> None:
    state: dict = {}
    on_event = _printer(state)
    for table, share in [("customers", 1.0), ("orders", 0.25), ("orders", 0.5), ("order_items", 0.5)]:
        on_event("table-generated", {"table": table, "rows": 10, "done": 0, "total": 4, "share": share})
    task = state["bar"].tasks[0]
    assert task.completed == 2.0 and task.total == 4
    on_event("phase-done", {"phase": 4, "name": "data"})
    assert "bar" not in state and "shares" not in state
