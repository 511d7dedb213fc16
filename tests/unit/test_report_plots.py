"""The report's charts and exports from stored steps: one point per trial and percentile, rules where
the figures say, the Pareto front, old trials still drawn, escaping, and exports that a spreadsheet
cannot be made to run."""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
from typing import Any

from infrec.report.export import to_csv, to_json
from infrec.report.figures import cost_chart, latency_chart, pareto, timeline_lanes, utilisation_chart
from infrec.report.html import job_report
from infrec.report.plots import nice_ticks, render


def _trial(phase: str, per_min: float, p50: float, verdict: str = "pass", at: float = 100.0) -> dict[str, Any]:
    return {"Phase": phase, "TargetRps": per_min / 60, "AchievedRps": per_min / 120, "ErrorRate": 0.0,
            "P95Ms": p50 * 2, "Seconds": 2.0, "Verdict": verdict, "StartedAt": at, "WallSeconds": 3.0,
            "InvocationsPerMinute": per_min, "LatencyMs": {"P50": p50, "P95": p50 * 2, "P99": p50 * 3},
            "CpuUtilization": per_min / 400, "MemoryUtilization": 3.5}


def _step(i: int, itype: str, cost: float, latency: float, trials: list[dict[str, Any]]) -> dict[str, Any]:
    return {"StepIndex": i, "Status": "COMPLETED", "EmulationScale": 0.5, "StartedAt": 90.0 + 40 * i,
            "EndedAt": 125.0 + 40 * i,
            "EndpointConfiguration": {"EndpointName": f"j-{i + 1}", "InstanceType": itype, "InitialInstanceCount": 1},
            "ModelConfiguration": {"EnvironmentParameters": []},
            "Metrics": {"MaxInvocations": 30000, "ModelLatency": latency, "CostPerHour": 0.1,
                        "CostPerInference": cost / 1e6, "CpuUtilization": 90, "MemoryUtilization": 3,
                        "ModelSetupTime": 2},
            "Details": {"SetupTimeSeconds": 1.5, "LatencyLimitMs": 80.0, "Trials": trials,
                        "MaxInvocationsInterval": {"Low": 28000, "High": 32000, "ConfidenceLevel": 0.95}}}


def _job(steps: list[dict[str, Any]]) -> dict[str, Any]:
    recs = [{"RecommendationId": "j/1", "EndpointConfiguration": steps[0]["EndpointConfiguration"],
             "ModelConfiguration": {}, "Metrics": steps[0]["Metrics"], "BestFor": ["cost"], "TiedWith": []}]
    return {"Job": {"JobName": "j", "JobType": "Default", "Status": "COMPLETED", "InferenceRecommendations": recs},
            "Result": {}, "Steps": steps}


def test_ticks_cover_the_range_with_round_steps() -> None:
    ticks = nice_ticks(0, 26_070)
    assert ticks[0] <= 0 and ticks[-1] >= 26_070 and len(ticks) <= 8
    steps = {round(b - a, 6) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1 and next(iter(steps)) in (5000.0, 10000.0)


def test_latency_chart_has_a_point_per_trial_and_percentile_and_the_rules() -> None:
    trials = [_trial("search", 10_000, 5), _trial("search", 40_000, 90, "latency"), _trial("hold", 25_000, 12)]
    step = _step(0, "ml.c5.large", 0.06, 40, trials)
    chart = latency_chart(step, {})
    assert chart is not None
    assert [s.name for s in chart.series] == ["P50 latency", "P95 latency", "P99 latency"]
    assert all(len(s.points) == 3 for s in chart.series)
    assert {p.key for s in chart.series for p in s.points} == {"s1-t1", "s1-t2", "s1-t3"}
    assert [p.faded for p in chart.series[0].points] == [False, True, False]   # the failed trial
    limit = next(r for r in chart.rules if r.axis == "y")
    cap = next(r for r in chart.rules if r.axis == "x")
    assert limit.value == 80.0 and "80 ms" in limit.label
    assert cap.value == 30000 and cap.band == (28000, 32000) and "28,000–32,000" in cap.label
    svg = render(chart)
    assert svg.count('class="pt"') == 9 and "invocations/min" in svg and "latency (ms)" in svg
    lines = re.findall(r'<polyline[^>]* points="([^"]+)"', svg)
    assert [len(p.split()) for p in lines] == [2, 2, 2]        # the failed trial is left off each curve
    util = utilisation_chart(step)
    assert util is not None and [len(s.points) for s in util.series] == [3, 3]


def test_a_trial_stored_before_per_trial_percentiles_is_still_drawn() -> None:
    old = {"Phase": "search", "TargetRps": 100, "AchievedRps": 100.0, "ErrorRate": 0, "P95Ms": 12.0,
           "Seconds": 2, "Verdict": "pass"}
    step = _step(0, "ml.c5.large", 0.06, 40, [old])
    chart = latency_chart(step, {})
    assert chart is not None and [s.name for s in chart.series] == ["P95 latency"]
    assert chart.series[0].points[0].x == 100.0 * 60 / 0.5          # read back to the full instance
    lanes, _ = timeline_lanes([step], now=200.0)
    assert [seg.phase for seg in lanes[0].segments] == ["setup", "step"]


def test_pareto_front_and_the_recommendation_ring() -> None:
    assert sorted(pareto([(10, 5), (20, 3), (15, 6), (30, 3)])) == [0, 1]
    steps = [_step(0, "ml.c5.large", 0.05, 40, []), _step(1, "ml.m5.large", 0.08, 30, []),
             _step(2, "ml.c5.xlarge", 0.09, 45, [])]
    chart = cost_chart(steps, _job(steps)["Job"]["InferenceRecommendations"])
    assert chart is not None
    assert sorted(chart.front) == [(30.0, 0.08), (40.0, 0.05)]     # xlarge is slower and dearer
    assert chart.ring is not None and chart.ring[:2] == (40.0, 0.05) and "ml.c5.large" in chart.ring[2]
    assert render(chart).count('class="pt"') == 3


def test_report_counts_points_per_plot_and_escapes_what_it_repeats() -> None:
    trials = [_trial("capacity", 30_000, 20, at=100), _trial("hold", 25_000, 10, at=104)]
    steps = [_step(0, "<b>x</b>", 0.05, 40, trials), _step(1, "ml.m5.large", 0.08, 30, trials[:1])]
    steps[1]["FailureReason"] = "<script>alert(1)</script>"
    page = job_report(_job(steps))
    assert "<script" not in page and "&lt;script&gt;" in page and "<b>x</b>" not in page

    def points(plot: str) -> int:
        m = re.search(rf'<svg[^>]*data-plot="{plot}".*?</svg>', page, re.S)
        assert m, plot
        return len(set(re.findall(r'class="pt[^"]*" data-key="([^"]+)"', m.group(0))))
    assert points("latency-1") == 2 and points("latency-2") == 1
    assert points("utilisation-1") == 2 and points("timeline") == 3 and points("cost") == 2
    assert "data:text/csv" in page and "Scaling advice" in page    # exports travel inside the file


def test_exports_hold_steps_trials_and_recommendations() -> None:
    trials = [_trial("search", 10_000, 5), _trial("hold", 25_000, 12)]
    steps = [_step(0, "ml.c5.large", 0.05, 40, trials)]
    steps[0]["FailureReason"] = "=HYPERLINK(\"http://x\")"
    details = _job(steps)
    table = list(csv.DictReader(io.StringIO(to_csv(details))))
    assert [r["record"] for r in table] == ["step", "trial", "trial", "recommendation"]
    assert float(table[1]["p99_ms"]) == 15 and float(table[2]["invocations_per_minute"]) == 25000
    assert table[3]["rank"] == "1" and table[3]["cost_per_1m_inferences_usd"] == "0.05"
    assert table[0]["failure_reason"].startswith("'=")                # not a formula in a spreadsheet
    doc = json.loads(to_json(details))
    assert len(doc["Trials"]) == 2 and doc["Recommendations"][0]["RecommendationId"] == "j/1"


def test_running_job_page_shows_progress_and_vpc_findings() -> None:
    from infrec.report.html import WebPage

    steps = [_step(0, "ml.c5.large", 0.05, 40, [_trial("search", 10_000, 5)])]
    steps[0]["Status"] = "IN_PROGRESS"
    steps[0]["Progress"] = {"Phase": "search", "Rate": 120.0, "TargetRate": 125.0, "P95Ms": 9.5, "Errors": 0}
    details = _job(steps)
    details["Job"]["Status"] = "IN_PROGRESS"
    details["Result"] = {"VpcPreflight": {"checks": [{"id": "s3-endpoint", "status": "fail", "resources": ["vpc-1"],
                                                      "message": "no S3 endpoint", "remedy": "add one"}]}}
    page = job_report(details, web=WebPage(script="/*live*/"))
    assert 'data-live-job="j"' in page and "120 req/s (target 125), P95 9.5 ms" in page
    assert 'action="/ui/jobs/j/stop"' in page and "<script>/*live*/</script>" in page
    assert "VPC preflight" in page and "no S3 endpoint" in page and "fix: add one" in page
    assert "Scaling advice" not in page                                   # only for a completed job
    saved = job_report(details)
    assert "<script" not in saved and "/stop" not in saved                # the file runs nothing
