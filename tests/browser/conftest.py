"""Browser tests: the report and the dashboard in a real headless Chromium (Debian's `chromium`
package, driven by Playwright's Python API with that binary — no browser is ever downloaded).

One session: `infrec demo` runs a real (short) job on one instance type, `infrec serve` serves its
state folder, one Chromium serves every test. Screenshots go to $INFREC_TEST_OUTPUT/browser, by
default build/test-output/browser/ in the repository (ignored by git), for a person to look at.

A missing Chromium fails these tests instead of skipping them: `make test` (scripts/test.sh)
installs it; elsewhere `apt-get install chromium` or INFREC_CHROMIUM=/path/to/chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import REPO, InfrecServer

EXE = str(Path(sys.executable).parent / "infrec")


def chromium_path() -> str:
    found = os.environ.get("INFREC_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no Chromium: `make test` installs Debian's chromium package (or set INFREC_CHROMIUM)")
    return found


@pytest.fixture(scope="session")
def output_dir() -> Path:
    root = Path(os.environ.get("INFREC_TEST_OUTPUT") or REPO / "build" / "test-output")
    folder = root / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def job_env(home: Path) -> dict[str, str]:
    # Short trials and holds, no warm-up second: the figures are not under test, the pages are.
    return {"INFREC_HOME": str(home), "INFREC_TRIAL_SECONDS": "1", "INFREC_HOLD_SECONDS": "3",
            "INFREC_WARMUP_SECONDS": "0", "INFREC_HOST_LOCK": str(home / "host.lock")}


@dataclass
class Demo:
    home: Path
    job: str
    report: Path
    output: str = field(repr=False)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """`infrec demo` as a user runs it (one instance type, to stay quick): a real job whose report
    path is the last line it prints."""
    home = tmp_path_factory.mktemp("browser") / "home"
    env = {**os.environ, **job_env(home)}
    env.pop("INFREC_ENDPOINT_URL", None)
    out = subprocess.run([EXE, "demo", "--instance-types", "ml.c5.large"], capture_output=True, text=True,
                         timeout=240, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("report: "), out.stdout[-2000:]
    report = Path(last.removeprefix("report: ").strip())
    assert report.is_file()
    return Demo(home, report.stem, report, out.stdout)


@pytest.fixture(scope="session")
def server(demo: Demo) -> Iterator[InfrecServer]:
    # Holds long enough that a job started here is still running when the test stops it.
    srv = InfrecServer({**job_env(demo.home), "INFREC_HOLD_SECONDS": "60"})
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []    # Chromium's sandbox refuses root
        b = pw.chromium.launch(executable_path=chromium_path(), args=args, headless=True)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page with what it did recorded: console errors, uncaught exceptions, every request's URL."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 900) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def outside(self, allowed: tuple[str, ...]) -> list[str]:
        """Requests to anywhere but `allowed` URL prefixes (data: URLs are inline, not requests)."""
        return [u for u in self.requests if not u.startswith((*allowed, "data:", "about:"))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    try:
        yield w
    finally:
        w.close()
