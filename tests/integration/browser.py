"""The dashboard in a real headless browser: Debian's chromium driven by Selenium, against the daemon.

Shared by the dashboard's test files: a seeded world served by a real daemon, a browser at a
laptop's or a phone's size, screenshots into test-artifacts/dashboard/ on every run, and
axe-core (tests/browser/, from npm) run inside the page for an accessibility check.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from tests.conftest import ROOT, Harness, start_daemon, stop_daemon, wait_until
from tests.integration.scenario import START, play, step_config
from tests.servers import REQUIRE, free_port

ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
TOKEN = "dash-test-token-7b9e"
LAPTOP = (1400, 1000)
PHONE = (390, 844)  # a common phone's CSS pixels


def _missing(message: str) -> None:
    if REQUIRE:
        pytest.fail(message)
    pytest.skip(message)


def chrome(size: tuple[int, int] = LAPTOP) -> Any:
    """A headless chromium at `size` (CSS pixels), reaching nothing but loopback."""
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        _missing("chromium and chromium-driver are not installed (scripts/test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    # headless, and nothing that reaches out to the network (this machine has none)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--window-size={size[0]},{size[1]}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    resize(driver, size)
    return driver


def resize(driver: Any, size: tuple[int, int]) -> None:
    """The page's viewport at `size` exactly (a window's size includes its frame; this does not)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": size[0] < 600},
    )


def seeded_world(folder: Path, more_config: str = "") -> tuple[Path, int]:
    """Client 1-3 taken from hand-over to won, "A question" from a stranger unmatched, and Delta
    Dairy stuck in Set-Up past its target; the config serves the dashboard with TOKEN."""
    cfg = step_config(folder)
    port = free_port()
    (folder / "dashboard-token").write_text(TOKEN + "\n")
    (folder / "dashboard-token").chmod(0o600)
    cfg.write_text(
        cfg.read_text()
        + f'\n[dashboard]\nport = {port}\npassword_file = "{folder / "dashboard-token"}"\n{more_config}\n'
    )
    sim = Harness(load_config(cfg), ManualClock(START))
    play(sim)
    stuck = sim.add_deal(
        "Delta Dairy", contacts=[ContactSpec("Dee", "dee@delta-dairy.example", "client_admin")]
    )
    sim.run()
    sim.advance(stuck, "set-up")
    return cfg, port


@contextmanager
def served(cfg: Path, port: int, base_path: str = "") -> Iterator[str]:
    """The daemon on `cfg`, until the block ends; yields the dashboard's address."""
    daemon = start_daemon(cfg, quiet=True)
    base = f"http://127.0.0.1:{port}{base_path}"
    try:
        wait_until(lambda: _answers(base), timeout=30)
        yield base
    finally:
        stop_daemon(daemon)


def _answers(base: str) -> bool:
    try:
        urllib.request.urlopen(base + "/board", timeout=2)
    except urllib.error.HTTPError:
        return True  # it answers (401 without the token)
    except OSError:
        return False
    return True


def signed_in(base: str, size: tuple[int, int] = LAPTOP) -> Any:
    """A browser that opened the dashboard once with its token (a cookie carries it after)."""
    driver = chrome(size)
    driver.get(f"{base}/board?token={TOKEN}")
    return driver


def shot(driver: Any, name: str) -> Path:
    """A screenshot in test-artifacts/dashboard/NAME.png, for people to look at after the run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def arrived(driver: Any, css: str, text: str = "") -> Any:
    """The element, holding `text`, on the page a click leads to: the browser may still be on the old one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(d: Any) -> Any:
        return next((e for e in d.find_elements(By.CSS_SELECTOR, css) if text in e.text), None)

    try:
        return WebDriverWait(driver, 15).until(found)
    except Exception:  # the page never showed it: fail on what it shows instead
        return driver.find_element(By.CSS_SELECTOR, css)


def axe(driver: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """axe-core's WCAG 2.1 A and AA checks on the page as it is: one line per violation of `impacts`,
    naming the rule and the elements (empty: none)."""
    if not AXE.exists():
        _missing(f"{AXE} is missing: scripts/test runs npm ci in tests/browser")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify({error: String(e)})));"
    )
    violations = json.loads(result)
    if isinstance(violations, dict):
        raise AssertionError(f"axe-core failed: {violations['error']}")
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in violations
        if v.get("impact") in impacts
    ]


def in_process(sim: Harness) -> Any:
    """The dashboard of a test's own agent, served by waitress on a free loopback port (no daemon)."""
    from agent.config import DashboardSection
    from agent.dashboard.serve import DashboardServer
    from agent.dashboard.site import Site

    site = Site(sim.agent.sessions, lambda: sim.agent.runtime, sim.clock)
    return DashboardServer(site, DashboardSection(), 0).start()
