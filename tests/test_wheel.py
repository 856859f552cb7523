"""A wheel of the project carries everything a run reads: the packages, the prompts and the blueprints."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_holds_the_blueprints_and_the_prompts(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("datafactory-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "datafactory-0.1.0.data/data/share/datafactory/domains/"
    assert {f"{data}{p.name}" for p in (ROOT / "domains").glob("*.yaml")} <= names
    assert {f"tasks/prompts/{p.name}" for p in (ROOT / "tasks" / "prompts").glob("*.md")} <= names
    assert {"flows/cli.py", "tasks/quality/run.py", "tasks/engine/generate.py", "schemas/spec.py"} <= names


def test_an_install_without_the_checkout_finds_the_installed_blueprints(monkeypatch, tmp_path: Path) -> None:
    import tasks.settings as settings

    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)  # as in site-packages: no domains/ beside the code
    assert settings.default_domains_dir() == Path(sys.prefix) / "share" / "datafactory" / "domains"
    monkeypatch.setattr(settings, "PROJECT_ROOT", ROOT)
    assert settings.default_domains_dir() == ROOT / "domains"
