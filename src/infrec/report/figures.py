"""From a job's stored steps and trials to the report's charts. Pure: it reads what
`JobService.job_details` returns and hands `report.plots` plain series; it decides what a reader
sees — which trial is which point, what the rules mean, where the Pareto front lies.

A trial recorded before infrec stored per-trial percentiles and utilisation (only the job's own
percentile and the emulated rate) is still drawn, from what it has."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from infrec.core.recommend import cost_range, interval, latency_objective
from infrec.core.serverless import endpoint_label
from infrec.report.plots import Chart, Lane, Point, Rule, Segment, Series

PLOTTED_PERCENTILES = ("P50", "P95", "P99")


def config_label(step: Mapping[str, Any]) -> str:
    """The configuration a step measured: instance (or serverless/endpoint) and its environment."""
    label = endpoint_label(step.get("EndpointConfiguration") or {})
    env = " ".join(f"{p.get('Key')}={p.get('Value')}"
                   for p in (step.get("ModelConfiguration") or {}).get("EnvironmentParameters") or [])
    return f"{label} [{env}]" if env else label


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def trials(step: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((step.get("Details") or {}).get("Trials") or [])


def trial_load(step: Mapping[str, Any], trial: Mapping[str, Any]) -> float | None:
    """A trial's achieved load in invocations per minute on the full instance (as MaxInvocations)."""
    per_min = _num(trial.get("InvocationsPerMinute"))
    if per_min is not None:
        return per_min
    rps = _num(trial.get("AchievedRps"))
    scale = _num(step.get("EmulationScale")) or 1.0
    return None if rps is None else rps * 60.0 / scale


def trial_latencies(trial: Mapping[str, Any]) -> dict[str, float]:
    """{percentile: ms} a trial recorded: P50/P95/P99, or only the job's percentile for older trials."""
    stored = trial.get("LatencyMs")
    if isinstance(stored, Mapping):
        return {p: v for p in PLOTTED_PERCENTILES if (v := _num(stored.get(p))) is not None}
    out = {}
    for key, value in trial.items():
        if key.startswith("P") and key.endswith("Ms") and (v := _num(value)) is not None:
            out[key[:-2]] = v
    return out


def trial_key(step: Mapping[str, Any], i: int) -> str:
    return f"s{int(step.get('StepIndex', 0)) + 1}-t{i + 1}"


def _trial_tip(step: Mapping[str, Any], i: int, trial: Mapping[str, Any], load: float) -> str:
    what = str(trial.get("Phase") or "trial")
    if trial.get("Users"):
        what += f", {trial['Users']} in flight"
    elif _num(trial.get("TargetRps")) is not None:
        what += f", offered {trial['TargetRps']:g} req/s"
    return (f"{config_label(step)} — trial {i + 1} ({what}): {load:,.0f} invocations/min, "
            f"errors {100 * (_num(trial.get('ErrorRate')) or 0):.2f} %, verdict {trial.get('Verdict', '?')}")


class _Plotted(NamedTuple):
    """A trial as every per-trial chart places it: its key, its load on the x axis, the tip's
    description, and whether it failed (drawn faded)."""

    trial: Mapping[str, Any]
    key: str
    load: float
    tip: str
    failed: bool


def _plotted_trials(step: Mapping[str, Any]) -> Iterator[_Plotted]:
    """The step's trials that have a load to place them by; one without is not drawn."""
    for i, t in enumerate(trials(step)):
        load = trial_load(step, t)
        if load is None:
            continue
        yield _Plotted(t, trial_key(step, i), load, _trial_tip(step, i, t, load),
                       failed=t.get("Verdict") not in (None, "pass"))


def latency_chart(step: Mapping[str, Any], job: Mapping[str, Any]) -> Chart | None:
    """P50/P95/P99 of every trial against its achieved load, with the latency limit and the step's
    MaxInvocations (and its confidence interval) as rules. None for a step without trials."""
    idx = int(step.get("StepIndex", 0)) + 1
    series: dict[str, list[Point]] = {p: [] for p in PLOTTED_PERCENTILES}
    other: dict[str, list[Point]] = {}
    for p in _plotted_trials(step):
        for pct, ms in trial_latencies(p.trial).items():
            target = series[pct] if pct in series else other.setdefault(pct, [])
            target.append(Point(p.load, ms, f"{pct} {ms:,.1f} ms — {p.tip}", p.key, faded=p.failed))
    drawn = [Series(f"{pct} latency", pts, style=j, hollow=j == 1) for j, (pct, pts) in
             enumerate([*series.items(), *other.items()]) if pts]
    if not drawn:
        return None
    details = step.get("Details") or {}
    rules = []
    limit = _num(details.get("LatencyLimitMs"))
    pct, threshold = _objective(job)
    if limit is None:
        limit = threshold
    if limit is not None:
        rules.append(Rule("y", limit, f"latency limit: {pct} ≤ {limit:,.0f} ms"))
    m = step.get("Metrics") or {}
    if _num(m.get("MaxInvocations")) is not None:
        iv = interval(details, "MaxInvocationsInterval")
        band = iv if iv and iv[1] > iv[0] else None
        text = f"MaxInvocations {m['MaxInvocations']:,.0f}/min"
        if iv:
            text += f" (95 % CI {iv[0]:,.0f}–{iv[1]:,.0f})"
        rules.append(Rule("x", float(m["MaxInvocations"]), text, band))
    return Chart(f"latency-{idx}", "throughput (invocations/min)", "latency (ms)", drawn, rules, x_zero=False,
                 clip_faded=True, description=f"latency against throughput, {config_label(step)}")


def _objective(job: Mapping[str, Any]) -> tuple[str, float | None]:
    try:
        return latency_objective(job.get("StoppingConditions"))
    except ValueError:
        return "P95", None


def utilisation_chart(step: Mapping[str, Any]) -> Chart | None:
    """The endpoint's CPU and memory utilisation during each trial against the trial's load."""
    idx = int(step.get("StepIndex", 0)) + 1
    cpu: list[Point] = []
    mem: list[Point] = []
    for p in _plotted_trials(step):
        if (c := _num(p.trial.get("CpuUtilization"))) is not None:
            cpu.append(Point(p.load, c, f"CPU {c:.1f} % — {p.tip}", p.key, faded=p.failed))
        if (r := _num(p.trial.get("MemoryUtilization"))) is not None:
            mem.append(Point(p.load, r, f"memory {r:.1f} % — {p.tip}", p.key, faded=p.failed))
    drawn = [s for s in (Series("CPU utilisation", cpu, style=0), Series("memory utilisation", mem, style=1,
                                                                          hollow=True)) if s.points]
    if not drawn:
        return None
    return Chart(f"utilisation-{idx}", "throughput (invocations/min)", "utilisation (%)", drawn, y_max=100.0,
                 x_zero=False,
                 description=f"CPU and memory utilisation against throughput, {config_label(step)}")


def measured(steps: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Steps with a price and a latency: the ones that can sit on the cost/latency plane."""
    out = []
    for s in steps:
        m = s.get("Metrics") or {}
        if _num(m.get("CostPerInference")) is not None and _num(m.get("ModelLatency")) is not None \
                and m.get("MaxInvocations"):
            out.append(s)
    return out


def pareto(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower is better on each)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((ox <= x and oy <= y) and (ox < x or oy < y) for j, (ox, oy) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def cost_chart(steps: Sequence[Mapping[str, Any]], recs: Sequence[Mapping[str, Any]],
               plot_id: str = "cost", label_jobs: Mapping[int, str] | None = None) -> Chart | None:
    """Cost per million inferences against ModelLatency, one point per measured configuration with
    its intervals as error bars, the Pareto front, and the top recommendation ringed. `label_jobs`
    (position → job name) groups the points by job instead of by configuration (comparison page)."""
    chosen = measured(steps)
    if not chosen:
        return None
    top = (recs[0].get("EndpointConfiguration") or {}).get("EndpointName") if recs else None
    xy: list[tuple[float, float]] = []
    series: list[Series] = []
    groups: dict[str, list[Point]] = {}
    ring = None
    for i, s in enumerate(chosen):
        m, d = s.get("Metrics") or {}, s.get("Details") or {}
        x, y = float(m["ModelLatency"]), float(m["CostPerInference"]) * 1e6
        xy.append((x, y))
        lat_iv = interval(d, "ModelLatencyInterval")
        lo, hi = cost_range({"Metrics": m, "Details": d})
        y_err = (lo * 1e6, hi * 1e6) if math.isfinite(hi) and hi > lo else None
        name = config_label(s)
        job = label_jobs.get(i) if label_jobs else None
        tip = (f"{(job + ': ') if job else ''}{name}: ${y:.3f} per 1M inferences, ModelLatency {x:,.0f} ms, "
               f"{m['MaxInvocations']:,.0f} invocations/min at ${float(m.get('CostPerHour', 0)):.3f}/hour")
        point = Point(x, y, tip, f"c{i + 1}", x_err=lat_iv if lat_iv and lat_iv[1] > lat_iv[0] else None,
                      y_err=y_err, label=name if len(chosen) <= 8 else "")
        groups.setdefault(job or name, []).append(point)
        ec = s.get("EndpointConfiguration") or {}
        if top is not None and ec.get("EndpointName") == top and not label_jobs:
            ring = (x, y, f"recommended: {name}")
    for j, (name, pts) in enumerate(groups.items()):
        series.append(Series(name, pts, style=j, line=False))
    front = [xy[i] for i in pareto(xy)]
    return Chart(plot_id, "ModelLatency (ms)", "USD per 1M inferences", series, front=front,
                 front_label="Pareto front (no configuration both cheaper and faster)", ring=ring,
                 description="cost per million inferences against model latency")


def timeline_lanes(steps: Sequence[Mapping[str, Any]], now: float) -> tuple[list[Lane], float]:
    """One lane per started step: its endpoint setup, then each trial by phase (search, capacity,
    hold) where the trial recorded when it ran, else the step's whole span. Seconds from the
    first step's start; a running step reaches `now`."""
    starts = [at for s in steps if (at := _num(s.get("StartedAt"))) is not None]
    if not starts:
        return [], 0.0
    origin = min(starts)
    lanes = []
    end_all = 0.0
    for s in steps:
        begun = _num(s.get("StartedAt"))
        if begun is None:
            continue
        idx = int(s.get("StepIndex", 0)) + 1
        ended = _num(s.get("EndedAt")) or now
        segs: list[Segment] = []
        d = s.get("Details") or {}
        setup = _num(d.get("SetupTimeSeconds"))
        if setup is not None:
            segs.append(Segment(begun - origin, begun - origin + setup, "setup",
                                f"step {idx}: endpoint setup {setup:.1f} s"))
        timed = False
        for i, t in enumerate(trials(s)):
            at, wall = _num(t.get("StartedAt")), _num(t.get("WallSeconds"))
            if at is None or wall is None:
                continue
            timed = True
            phase = str(t.get("Phase") or ("serverless" if t.get("UsersRun") else "search"))
            load = trial_load(s, t)
            segs.append(Segment(at - origin, at - origin + wall, phase,
                                f"step {idx}, trial {i + 1}: {phase}, {wall:.1f} s"
                                + (f", {load:,.0f} invocations/min" if load is not None else "")
                                + f", {t.get('Verdict', '?')}", trial_key(s, i)))
        if not timed:
            segs.append(Segment(begun - origin + (setup or 0.0), ended - origin, "step",
                                f"step {idx}: {s.get('Status', '?')}, {ended - begun:.0f} s"))
        end_all = max(end_all, ended - origin, *(g.end for g in segs))
        lanes.append(Lane(f"{idx}. {config_label(s)}", segs))
    return lanes, end_all
