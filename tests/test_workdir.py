"""One live run per work folder: a second run of the same spec works in a folder of its own."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tasks.workdir import claim_work_dir

ROOT = Path(__file__).resolve().parent.parent


def test_a_second_live_run_of_the_same_spec_gets_its_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "retail-7-abc"
    with claim_work_dir(folder, "run1") as first, claim_work_dir(folder, "run2") as second:
        assert first == folder and second == tmp_path / "runs" / "retail-7-abc-run2"
        assert second.is_dir()
    with claim_work_dir(folder, "run3") as again:  # released: the next run resumes in the spec's folder
        assert again == folder


def test_a_crashed_run_never_leaves_the_folder_held(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tasks.workdir import claim_work_dir\n"
            f"with claim_work_dir({str(folder)!r}, 'crashing'):\n"
            "    print('held', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with claim_work_dir(folder, "other") as busy:
            assert busy != folder
        holder.kill()
        holder.wait(10)
        deadline = time.monotonic() + 5
        while True:
            with claim_work_dir(folder, "resumed") as claimed:
                if claimed == folder or time.monotonic() > deadline:
                    break
        assert claimed == folder
    finally:
        holder.kill()
