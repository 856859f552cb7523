"""Phase modules load in the importing thread, never lazily inside task threads.

First imports racing in threads (a warm-up thread importing matplotlib.pyplot while the charts module set
its backend; batch items importing the report modules at once) saw partially initialised modules and lost
batch items. Importing the flow now loads every phase module before any thread starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASE_MODULES = [
    "tasks.answers",
    "tasks.reports.charts",
    "tasks.package",
    "tasks.reports.profiles",
    "tasks.quality",
    "tasks.quality.gx_suites",
    "tasks.reports.workbook",
    "tasks.reports.pdf",
    "tasks.storage",
    "tasks.engine.messiness",
    "tasks.preview",
    "tasks.designer",
]
PROBE = f"""
import json, sys, threading
import flows.challenge, flows.batch
print(json.dumps({{
    "missing": [m for m in {PHASE_MODULES!r} if m not in sys.modules],
    "threads": [t.name for t in threading.enumerate() if t is not threading.main_thread()],
    "backend": sys.modules["matplotlib"].get_backend().lower(),
}}))
"""


def test_importing_the_flow_loads_every_phase_module_before_any_thread(tmp_path: Path) -> None:
    env = os.environ | {"PREFECT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["missing"] == []
    assert "warm-imports" not in probe["threads"]
    assert probe["backend"] == "agg"
