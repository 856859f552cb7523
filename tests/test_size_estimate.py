"""The run-size estimate: rows per table from the plan's rules, refusals with the figures and the limit (issue 18.2)."""

from __future__ import annotations

import pytest

from schemas.errors import InputError
from tasks.engine import generate_dataset
from tasks.size_estimate import check_rows_requested, check_run_size, estimate_size


def test_the_estimate_follows_the_plan_and_bounds_the_generated_rows(retail_spec) -> None:
    spec = retail_spec.model_copy(update={"scale": 2_000})
    estimate = estimate_size(spec)
    generated = generate_dataset(spec)
    for table in spec.tables:
        rows = len(generated[table.name])
        # drawn counts, volume scenarios and filtered parents: within a few percent, or an upper bound
        assert rows <= estimate.rows[table.name] * 1.05, table.name
        if table.rows is not None or table.ratio is not None:
            assert rows >= estimate.rows[table.name] * 0.8, table.name
    assert estimate.total_bytes > 0


def test_a_huge_spec_is_refused_with_its_figures_and_the_setting_to_raise(retail_spec, tmp_path) -> None:
    spec = retail_spec.model_copy(update={"scale": 10_000_000_000})
    with pytest.raises(InputError) as caught:
        check_run_size(spec, max_rows=100_000_000, max_bytes=10**15, out_dir=tmp_path)
    message = str(caught.value)
    assert "the challenge would generate about" in message and "rows" in message
    assert "above the limit of 100,000,000 rows (DATAFACTORY_MAX_ROWS)" in message
    assert "lower --rows" in message


def test_a_spec_over_the_byte_limit_or_the_free_disk_is_refused(retail_spec, tmp_path, monkeypatch) -> None:
    with pytest.raises(InputError, match="DATAFACTORY_MAX_BYTES"):
        check_run_size(retail_spec, max_rows=10**12, max_bytes=1_000, out_dir=tmp_path)
    monkeypatch.setattr("tasks.size_estimate.shutil.disk_usage", lambda p: type("U", (), {"free": 10})())
    with pytest.raises(InputError, match="not-yet has only 10 B free"):
        check_run_size(retail_spec, max_rows=10**12, max_bytes=10**15, out_dir=tmp_path / "not-yet")


def test_requested_rows_are_checked_against_the_limits_before_the_spec_exists(tmp_path) -> None:
    check_rows_requested(10_000, max_rows=100_000_000, max_bytes=50 * 10**9, out_dir=tmp_path)
    with pytest.raises(InputError, match=r"--rows 10,000,000,000 is above the limit"):
        check_rows_requested(10_000_000_000, max_rows=100_000_000, max_bytes=50 * 10**9, out_dir=tmp_path)
    with pytest.raises(InputError, match="DATAFACTORY_MAX_BYTES"):
        check_rows_requested(1_000_000, max_rows=10**12, max_bytes=1_000, out_dir=tmp_path)
