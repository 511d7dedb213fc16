"""The report and the dashboard as a person sees them, in headless Chromium: every plot drawn with
one point per stored trial, no console error, nothing fetched from beyond 127.0.0.1 (or, for the
saved file, beyond the file itself), readable on a phone, live progress, the stop button, the
comparison page. Screenshots land in the output folder (see conftest)."""

from __future__ import annotations

import time
from typing import Any

from infrec.config import Settings
from infrec.services import Services
from tests.browser.conftest import Demo, Watched
from tests.helpers import InfrecServer


def _details(demo: Demo, name: str) -> dict[str, Any]:
    """What the store holds for a job, read through the real services (as the pages are)."""
    import os

    services = Services(Settings.from_env({**os.environ, "INFREC_HOME": str(demo.home)}))
    try:
        return services.jobs.job_details(name)
    finally:
        services.close()


def _keys(page: Any, plot: str) -> set[str]:
    """The distinct trials (data-key) drawn in one plot, each of whose markers has a size on screen."""
    marks = page.locator(f'svg[data-plot="{plot}"] .pt')
    keys = set()
    for i in range(marks.count()):
        m = marks.nth(i)
        box = m.bounding_box()
        assert box is not None and box["width"] > 0 and box["height"] > 0, (plot, i)
        keys.add(m.get_attribute("data-key"))
    return keys


def _check_plots(page: Any, details: dict[str, Any]) -> None:
    steps = details["Steps"]
    all_trials = set()
    for s in steps:
        idx = s["StepIndex"] + 1
        trials = (s.get("Details") or {}).get("Trials") or []
        assert trials, f"step {idx} stored no trial"
        want = {f"s{idx}-t{i + 1}" for i in range(len(trials))}
        all_trials |= want
        assert _keys(page, f"latency-{idx}") == want
        assert _keys(page, f"utilisation-{idx}") == want
        # P50, P95 and P99 of every trial
        assert page.locator(f'svg[data-plot="latency-{idx}"] .pt').count() == 3 * len(trials)
    assert _keys(page, "timeline") == all_trials
    measured = [s for s in steps if (s.get("Metrics") or {}).get("CostPerInference") is not None]
    assert len(_keys(page, "cost")) == len(measured) >= 1
    assert page.locator("svg.plot circle.ring").count() == 1          # the recommendation


def test_saved_report_draws_every_trial_offline(browser: Any, demo: Demo, output_dir: Any) -> None:
    details = _details(demo, demo.job)
    w = Watched(browser)
    try:
        w.page.goto(demo.report.as_uri())
        _check_plots(w.page, details)
        assert w.errors == []
        assert w.outside((demo.report.as_uri(),)) == []
        w.page.screenshot(path=str(output_dir / "report-file.png"), full_page=True)
    finally:
        w.close()


def test_job_page_renders_every_plot_and_reads_on_a_phone(browser: Any, demo: Demo, server: InfrecServer,
                                                          output_dir: Any) -> None:
    details = _details(demo, demo.job)
    for width, name in ((1280, "job-page.png"), (390, "job-page-phone.png")):
        w = Watched(browser, width=width, height=900)
        try:
            w.page.goto(f"{server.url}/ui/jobs/{demo.job}")
            _check_plots(w.page, details)
            assert w.page.locator("text=Recommendations").count() >= 1
            assert w.page.locator("text=Scaling advice").count() == 1
            # No sideways scrolling of the page itself (wide tables scroll inside their box).
            assert w.page.evaluate("document.documentElement.scrollWidth") <= width + 1
            w.page.screenshot(path=str(output_dir / name), full_page=True)
            assert w.errors == []
            assert w.outside((server.url + "/",)) == []
            with w.page.expect_download() as dl:
                w.page.click("text=Export CSV")
            with open(dl.value.path(), encoding="utf-8") as f:
                text = f.read()
            trials = sum(len((s.get("Details") or {}).get("Trials") or []) for s in details["Steps"])
            assert text.count("\ntrial,") == trials and text.startswith("record,")
        finally:
            w.close()


def _start_job(server: InfrecServer, name: str) -> None:
    sm = server.client()
    package = sm.list_model_packages(ModelPackageGroupName="infrec-demo")["ModelPackageSummaryList"][0]
    sm.create_inference_recommendations_job(
        JobName=name, JobType="Default", RoleArn="arn:aws:iam::000000000000:role/any",
        InputConfig={"ModelPackageVersionArn": package["ModelPackageArn"], "JobDurationInSeconds": 300,
                     "ContainerConfig": {"SupportedInstanceTypes": ["ml.m5.large"]}})


def _status(server: InfrecServer, name: str) -> str:
    return str(server.client().describe_inference_recommendations_job(JobName=name)["Status"])


def test_dashboard_live_progress_stop_and_comparison(watched: Watched, demo: Demo, server: InfrecServer,
                                                     output_dir: Any) -> None:
    page = watched.page
    _start_job(server, "browser-running")
    deadline = time.monotonic() + 60
    while _status(server, "browser-running") != "IN_PROGRESS":
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.3)

    # The job list: both jobs, the running one with live progress kept current by the page itself.
    answer = page.goto(f"{server.url}/ui")
    assert answer is not None
    script_src = next(p for p in answer.headers["content-security-policy"].split(";") if "script-src" in p)
    assert "'sha256-" in script_src and "unsafe" not in script_src     # that one script, by hash
    assert page.locator(f'a:text-is("{demo.job}")').count() == 1
    row = page.locator('[data-live-job="browser-running"]')
    assert row.count() == 1
    page.evaluate("window.__notReloaded = true")
    # The server rendered "starting"; the page's own script (allowed by hash under its CSP) then
    # shows the load as the step runs, without a reload.
    page.wait_for_function(
        "() => /req\\/s/.test(document.querySelector('[data-live-job=\"browser-running\"] [data-live-text]')"
        ".textContent)", timeout=40_000)
    assert page.evaluate("window.__notReloaded === true")
    assert any("/ui/progress.json?job=browser-running" in u for u in watched.requests)
    page.screenshot(path=str(output_dir / "dashboard.png"), full_page=True)

    # Filters: only completed jobs.
    page.select_option('select[name="status"]', "COMPLETED")
    page.click('button:text-is("Filter")')
    page.wait_for_url("**/ui?*status=COMPLETED*")
    assert page.locator('a:text-is("browser-running")').count() == 0
    assert page.locator(f'a:text-is("{demo.job}")').count() == 1

    # The stop button: the job ends STOPPED, and its page says so without a reload by hand.
    page.goto(f"{server.url}/ui/jobs/browser-running")
    with page.expect_navigation():
        page.click("button.stop")
    assert page.url == f"{server.url}/ui/jobs/browser-running", (page.url, page.content()[:500])
    deadline = time.monotonic() + 60
    while _status(server, "browser-running") != "STOPPED":
        assert time.monotonic() < deadline, "the job did not stop"
        time.sleep(0.3)
    page.wait_for_selector(".badge.STOPPED", timeout=20_000)

    # Comparison: tick both jobs in the list.
    page.goto(f"{server.url}/ui")
    page.check(f'input[value="{demo.job}"]')
    page.check('input[value="browser-running"]')
    page.click('button:text-is("Compare selected jobs")')
    page.wait_for_url("**/ui/compare?*")
    assert page.locator("h1").inner_text() == "Comparing 2 jobs"
    assert page.locator(f'th:text-is("{demo.job}")').count() >= 1
    assert page.locator('th:text-is("browser-running")').count() >= 1
    assert len(_keys(page, "compare-cost")) >= 1
    page.screenshot(path=str(output_dir / "comparison.png"), full_page=True)
    assert watched.errors == []
    assert watched.outside((server.url + "/",)) == []


def test_stop_from_another_site_is_refused_and_export_cli(demo: Demo, server: InfrecServer) -> None:
    """The stop form is a POST: a page on another origin cannot send it (CSRF); `infrec jobs export`
    writes the same rows the page offers."""
    import os
    import subprocess
    import urllib.error
    import urllib.request

    from tests.browser.conftest import EXE, job_env

    req = urllib.request.Request(f"{server.url}/ui/jobs/{demo.job}/stop", data=b"", method="POST",
                                 headers={"Origin": "http://evil.example"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("a cross-site stop was accepted")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
    env = {**os.environ, **job_env(demo.home)}
    env.pop("INFREC_ENDPOINT_URL", None)
    out = subprocess.run([EXE, "jobs", "export", demo.job, "--format", "csv"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    with urllib.request.urlopen(f"{server.url}/ui/jobs/{demo.job}/export.csv", timeout=10) as resp:
        assert resp.read().decode() == out.stdout
    assert out.stdout.count("\nrecommendation,") == 1 and "\ntrial," in out.stdout
    bad = subprocess.run([EXE, "jobs", "export", demo.job, "--format", "xml"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert bad.returncode == 2 and "csv, json" in bad.stderr
