"""The gate form in a real browser: headless Chromium (Debian's package) driven by selenium.

A real `prefect server start` serves its UI; a challenge run waits at gate 1. The test opens the
run's page, presses Resume, checks the form (the gate's description, Decision required and
pre-set to approve), submits it, and sees the run go on and wait at gate 2, in the UI's form too.

Skipped only outside CI when Chromium, chromedriver or selenium is missing (scripts/test.sh
installs them); in CI (the CI variable set) a missing browser fails the test.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest
from fakes.processes import start_prefect_server, stop, wait_for
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
# a direct run (not a deployment) pauses in its own process, so resuming needs no worker restart
RUN = (
    "from flows.challenge import challenge_flow; "
    "challenge_flow(brief='An online store is losing customers in the West', rows=300, seed=9, "
    "approval='manual', output_dir={out!r})"
)
UI_WAIT = 120  # seconds for a page or form to show: the first load compiles the UI's bundle


def _browser_tools() -> tuple[str, str]:
    """Chromium and chromedriver paths; skips (outside CI only) when one of them or selenium is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    missing = [
        name
        for name, found in (
            ("chromium", chromium),
            ("chromium-driver", driver),
            ("selenium (pip install -e '.[dev]')", importlib.util.find_spec("selenium")),
        )
        if not found
    ]
    if missing:
        reason = f"browser test needs {', '.join(missing)}; scripts/test.sh installs them"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so this is not skipped)")
        pytest.skip(reason)
    return chromium, driver


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    """A real Prefect server with its UI, on a free loopback port, with its own home."""
    _browser_tools()  # skip before starting a server no browser will open
    home = tmp_path_factory.mktemp("prefect-ui-home")
    process, url, env, log = start_prefect_server(home, ui=True)
    port = url.rsplit(":", 1)[1].split("/", 1)[0]

    def serves_the_ui() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as health:
                if health.status != 200:
                    return False
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as page:
                return b"<title>Prefect Server</title>" in page.read()
        except OSError:
            assert process.poll() is None, (home / "server.log").read_text()[-2000:]
            return False

    wait_for(serves_the_ui, 180, "the Prefect server and its UI")
    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield {"url": url, "ui": f"http://127.0.0.1:{port}", "env": env, "home": home}
    stop(process)
    log.close()


@pytest.fixture
def browser():
    chromium, driver = _browser_tools()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    # an explicit driver path: selenium never looks for (or downloads) a driver itself
    session = webdriver.Chrome(service=Service(driver), options=options)
    session.set_page_load_timeout(UI_WAIT)
    yield session
    session.quit()


def _paused_at(run_id: uuid.UUID, key: str):
    """A condition: the run waits at the gate ``key`` with its form stored (the UI draws that form)."""
    from flows.gates import wait_for_gate_form

    def check():
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
            assert state is None or not state.is_final(), f"run ended early: {state.name}: {state.message}"
            if not (state and state.is_paused() and state.state_details.pause_key == key):
                return None
            return wait_for_gate_form(client, run_id, timeout=60)

    return check


def _run_id(log: Path) -> uuid.UUID | None:
    """The run's id, from the 'View at .../runs/flow-run/<id>' line the flow logs when it starts."""
    for line in log.read_text().splitlines():
        if "/runs/flow-run/" in line:
            return uuid.UUID(line.rsplit("/", 1)[1].strip())
    return None


def _open_form(browser, page: str, gate: int):
    """Open the run's page, press Resume and wait for the form of ``gate``; returns the dialog."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, UI_WAIT)
    browser.get(page)
    wait.until(ec.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Resume']"))).click()
    dialog = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]")))
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "[role=dialog]"), f"Gate {gate} of 3"))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[role=dialog] select")))
    return dialog


def test_the_resume_form_in_the_browser_approves_gate_1_and_the_run_waits_at_gate_2(
    ui_server, browser, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    # Setup: a challenge run (small) that waits at gate 1
    # the run's id is read from its "View at" log line: importing flows.cli (other tests do) quiets the console
    # for the whole session through os.environ, so the run is told to log at INFO again
    env = ui_server["env"] | {
        "PYTHONPATH": str(ROOT),
        "DATAFACTORY_GATE_POLL_SECONDS": "1",
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "INFO",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    log_path = tmp_path / "run.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    run = subprocess.Popen(
        [sys.executable, "-c", RUN.format(out=str(tmp_path / "out"))],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def started() -> uuid.UUID | None:
            assert run.poll() is None, log_path.read_text()[-3000:]
            return _run_id(log_path)

        run_id = wait_for(started, 120, "the run to start")
        wait_for(_paused_at(run_id, "gate-1-attempt-0"), 240, "gate 1")
        page = f"{ui_server['ui']}/runs/flow-run/{run_id}"

        # Run: the form as a reviewer sees it, then approve
        dialog = _open_form(browser, page, gate=1)
        labels = [e.text for e in dialog.find_elements(By.CSS_SELECTOR, ".schema-form-property__label")]
        assert labels[:3] == ["Decision", "Feedback (Optional)", "Spec YAML (Optional)"], labels
        decision = Select(dialog.find_element(By.CSS_SELECTOR, "select"))
        assert decision.first_selected_option.get_attribute("value") == "approve"
        dialog.find_element(By.XPATH, ".//button[normalize-space()='Submit']").click()
        WebDriverWait(browser, UI_WAIT).until(ec.invisibility_of_element_located((By.CSS_SELECTOR, "[role=dialog]")))

        # Assert: the run went on past gate 1 and waits at gate 2; the UI shows gate 2's form
        state = wait_for(_paused_at(run_id, "gate-2-attempt-0"), 300, "gate 2")
        assert state.is_paused()
        _open_form(browser, page, gate=2)
        assert "gate-decision {'gate': 1, 'decision': 'approve'" in log_path.read_text()
    except Exception as exc:
        raise AssertionError(f"{exc}\n--- the run's log ---\n{log_path.read_text()[-3000:]}") from exc
    finally:
        stop(run)
        log.close()
