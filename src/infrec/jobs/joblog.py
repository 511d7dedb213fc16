"""A job's execution log, as SageMaker writes it to CloudWatch Logs (log group
``/aws/sagemaker/InferenceRecommendationsJobs``, stream ``<job name>/execution``), rendered from
what the store already holds for the job and its steps: nothing is written twice, no schema changes,
and the log survives a restart of the service because the rows do.

Every line carries the stored time of the fact it reports, and appears only once that time is
written: the job's creation; the first step's start (the job started: VPC preflight, waiting for the
host); each step's start (instance type, count, environment, emulation) and end (endpoint setup
time, every trial with offered and achieved rate, latency percentile and verdict, capacity, the
MaxInvocations interval, metrics or failure reason); and, at completion, the recommendations and
the outcome. A step's trials are recorded when the step ends, so they carry the step's end time and
say their own durations. Because times only grow as rows are written, the stream only grows at its
end, which is what GetLogEvents' forward tokens need (``core.logpaging``); lines younger than
``SETTLE_MS`` are held back so a transaction still committing cannot slip in behind a served one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from infrec.core.errors import NotFoundError
from infrec.core.logpaging import LogEvent, sort_events
from infrec.jobs import states
from infrec.jobs.repo import JobRepo
from infrec.store.tables import JobRow, JobStepRow

LOG_GROUP = "/aws/sagemaker/InferenceRecommendationsJobs"
STREAM_SUFFIX = "/execution"
SETTLE_MS = 1000
_PCT_KEY = re.compile(r"P\d+Ms")


def ms(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    if dt.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        dt = dt.replace(tzinfo=UTC)
    return round(dt.timestamp() * 1000)


def _num(v: Any, fmt: str = ",.1f") -> str:
    return format(v, fmt) if isinstance(v, int | float) and not isinstance(v, bool) else "?"


def _env(params: Iterable[dict[str, Any]] | None) -> str:
    pairs = [f"{p.get('Key')}={p.get('Value')}" for p in params or []]
    return ", ".join(pairs) if pairs else "image defaults"


def _model_of(job: JobRow) -> str:
    if job.model_package_arn:
        return f"model package {job.model_package_arn}"
    return f"model {job.model_name}"


def _objective(req: dict[str, Any]) -> str:
    stop = req.get("StoppingConditions") or {}
    parts = []
    for t in stop.get("ModelLatencyThresholds") or []:
        parts.append(f"{t.get('Percentile', 'P95')} ≤ {t.get('ValueInMilliseconds')} ms")
    if stop.get("MaxInvocations"):
        parts.append(f"stop at {stop['MaxInvocations']:,} invocations/min")
    return "; stopping conditions: " + ", ".join(parts) if parts else ""


# ---------------------------------------------------------------------------------------- lines
def _trial_line(prefix: str, k: int, t: dict[str, Any]) -> str:
    pct_key = next((key for key in t if _PCT_KEY.fullmatch(key)), None)
    if t.get("Users"):
        load = f"closed loop, {t['Users']} requests in flight"
    else:
        load = f"offered {_num(t.get('TargetRps'), ',.2f')} req/s (sent {_num(t.get('SentRps'), ',.2f')})"
    latency = (f"{pct_key[:-2]} {_num(t.get(pct_key), ',.2f')} ms" if pct_key and t.get(pct_key) is not None
               else "no latency")
    verdict = t.get("Verdict", "?")
    verdict = "pass" if verdict == "pass" else f"FAIL ({verdict})"
    return (f"{prefix}: trial {k} ({t.get('Phase', '?')}): {load} → achieved {_num(t.get('AchievedRps'), ',.2f')} "
            f"req/s, {latency}, errors {_num(100 * float(t.get('ErrorRate') or 0), '.2f')} %, "
            f"{_num(t.get('Seconds'), '.1f')} s measured: {verdict}")


def _step_end_lines(prefix: str, step: JobStepRow, percentile: str) -> list[str]:
    doc = step.doc or {}
    d = doc.get("Details") or {}
    out: list[str] = []
    if d.get("SetupTimeSeconds") is not None:
        enforcement = d.get("Enforcement")
        how = f"; resources enforced by {enforcement}" if enforcement else ""
        out.append(f"{prefix}: endpoint in service after {_num(d['SetupTimeSeconds'], '.2f')} s (ModelSetupTime){how}")
    for note in d.get("EmulationNotes") or []:
        out.append(f"{prefix}: emulation: {note}")
    if d.get("UnloadedP50Ms") is not None:
        out.append(f"{prefix}: unloaded latency P50 {_num(d['UnloadedP50Ms'], '.2f')} ms")
    for k, t in enumerate(d.get("Trials") or [], 1):
        if isinstance(t, dict):
            out.append(_trial_line(prefix, k, t))
    cap = d.get("Capacity")
    if isinstance(cap, dict) and cap:
        if cap.get("Rps") is not None:
            out.append(f"{prefix}: capacity {_num(cap['Rps'], ',.2f')} req/s with {cap.get('Users', '?')} requests in "
                       f"flight over {_num(cap.get('Seconds'), '.1f')} s (±{_num(cap.get('HalfWidthPercent'), '.1f')} %, "
                       f"{'converged' if cap.get('Converged') else 'not converged'})")
        for key in ("Note", "SecondPartNote"):
            if cap.get(key):
                out.append(f"{prefix}: capacity: {cap[key]}")
    hold = d.get("Hold")
    if isinstance(hold, dict) and hold:
        out.append(f"{prefix}: hold at {_num(hold.get('TargetRps'), ',.2f')} req/s for {_num(hold.get('Seconds'), '.1f')} s "
                   f"(attempt {hold.get('Attempt', '?')}, ended by {hold.get('EndedBy', '?')})")
    if d.get("StopReason"):
        out.append(f"{prefix}: traffic pattern ended: {d['StopReason']}")
    if d.get("SearchEndedBy"):
        out.append(f"{prefix}: rate search ended by {d['SearchEndedBy']}")
    iv = d.get("MaxInvocationsInterval")
    if isinstance(iv, dict) and iv.get("Low") is not None:
        source = " from the measured capacity" if iv.get("Source") == "capacity" else ""
        out.append(f"{prefix}: MaxInvocations 95 % interval {_num(iv.get('Low'), ',.0f')}–{_num(iv.get('High'), ',.0f')} "
                   f"per minute{source} ({'converged' if iv.get('Converged') else 'not converged'})")
    if d.get("NoPassReason"):
        out.append(f"{prefix}: {d['NoPassReason']}")
    status = step.status
    if status == states.COMPLETED:
        m = doc.get("Metrics") or {}
        out.append(f"{prefix} completed: MaxInvocations {_num(m.get('MaxInvocations'), ',.0f')}/min, ModelLatency "
                   f"{_num(m.get('ModelLatency'), ',.0f')} ms ({percentile}), CPU {_num(m.get('CpuUtilization'))} %, "
                   f"memory {_num(m.get('MemoryUtilization'))} %, ${_num(m.get('CostPerHour'), ',.4f')}/hour, "
                   f"${_num(m.get('CostPerInference'), '.3g')}/inference")
    elif status == states.FAILED:
        out.append(f"{prefix} FAILED: {doc.get('FailureReason') or 'no reason recorded'}")
    elif status == states.STOPPED:
        out.append(f"{prefix} stopped")
    return out


def render(job: JobRow, steps: list[JobStepRow]) -> list[LogEvent]:
    """Every line the job's stored state supports, sorted by time (see the module doc)."""
    events: list[LogEvent] = []

    def add(at: int | None, *lines: str) -> None:
        if at is not None:
            events.extend(LogEvent(at, line) for line in lines)

    req = job.request or {}
    result = job.result or {}
    n = len(steps)
    types = sorted({(s.doc or {}).get("EndpointConfiguration", {}).get("InstanceType", "?") for s in steps})
    created = ms(job.created_at)
    completed = ms(job.completed_at) if job.status in states.TERMINAL else None
    duration = (req.get("InputConfig") or {}).get("JobDurationInSeconds")
    add(created, f"Inference recommendations job {job.name} created: {job.job_type} job for {_model_of(job)}; "
                 f"{n} benchmark step{'s' if n != 1 else ''} planned on {', '.join(types) or 'no instance type'}"
                 + (f"; JobDurationInSeconds {duration}" if duration else "") + _objective(req))

    # The job started: known once its first step started or ended (or it ended without one).
    step_times = [t for s in steps for t in (ms(s.started_at), ms(s.ended_at)) if t is not None]
    began = min(step_times) if step_times else None
    if began is not None or completed is not None:
        at = began if began is not None else completed
        lines = []
        if began is not None:
            lines.append(f"Job {job.name} started")
        vpc = result.get("VpcPreflight")
        if isinstance(vpc, dict):
            counts = vpc.get("counts") or {}
            summary = ", ".join(f"{v} {k}" for k, v in counts.items() if v)
            lines.append(f"VPC preflight {'passed' if vpc.get('ok') else 'FAILED'} ({summary or 'no checks'})")
            for c in vpc.get("checks") or []:
                if isinstance(c, dict) and c.get("status") in ("warn", "fail"):
                    lines.append(f"VPC preflight: [{c.get('id')}] {str(c.get('status')).upper()} {c.get('message')}")
        lock = result.get("HostLock")
        if isinstance(lock, dict):
            if lock.get("WaitedSeconds") is not None:
                lines.append(f"waited {_num(lock['WaitedSeconds'], '.0f')} s for the host (one benchmark at a time)")
            for key in ("TimedOut", "Cancelled"):
                if lock.get(key):
                    lines.append(f"host lock: {lock[key]}")
        add(at, *lines)

    percentile = "P95"
    thresholds = (req.get("StoppingConditions") or {}).get("ModelLatencyThresholds") or []
    if thresholds and thresholds[0].get("Percentile"):
        percentile = str(thresholds[0]["Percentile"])
    for s in steps:
        doc = s.doc or {}
        ec = doc.get("EndpointConfiguration") or {}
        prefix = f"Step {s.step_index + 1}/{n}"
        env = _env((doc.get("ModelConfiguration") or {}).get("EnvironmentParameters"))
        scale = s.emulation_scale
        emu = f"; emulated at {scale:.3g} of the instance's size on this host" if scale and scale != 1.0 else ""
        add(ms(s.started_at), f"{prefix} started: {ec.get('InstanceType', '?')} × {ec.get('InitialInstanceCount', 1)}, "
                              f"environment: {env}; endpoint {ec.get('EndpointName', '?')}{emu}")
        if s.status in (states.COMPLETED, states.FAILED, states.STOPPED):
            # Steps a job ended without running have no end time of their own: the job's is theirs.
            add(ms(s.ended_at) or completed, *_step_end_lines(prefix, s, percentile))

    if completed is not None:
        lines = []
        for i, r in enumerate(result.get("InferenceRecommendations") or [], 1):
            ec, m = r.get("EndpointConfiguration") or {}, r.get("Metrics") or {}
            env = _env((r.get("ModelConfiguration") or {}).get("EnvironmentParameters"))
            lines.append(f"Recommendation {i}: {ec.get('InstanceType', '?')} × {ec.get('InitialInstanceCount', 1)} "
                         f"({env}): MaxInvocations {_num(m.get('MaxInvocations'), ',.0f')}/min, ModelLatency "
                         f"{_num(m.get('ModelLatency'), ',.0f')} ms, ${_num(m.get('CostPerInference'), '.3g')}/inference, "
                         f"${_num(m.get('CostPerHour'), ',.4f')}/hour; RecommendationId {r.get('RecommendationId')}")
        if result.get("Note"):
            lines.append(str(result["Note"]))
        if job.status == states.COMPLETED:
            lines.append(f"Job {job.name} COMPLETED with {len(result.get('InferenceRecommendations') or [])} "
                         "recommendation(s)")
        elif job.status == states.FAILED:
            lines.append(f"Job {job.name} FAILED: {job.failure_reason or 'no reason recorded'}")
        else:
            lines.append(f"Job {job.name} STOPPED")
        add(completed, *lines)
    return sort_events(events)


class JobLogSource:
    """The recommendation jobs' log group for the Logs service (`infrec.logs`): one stream per job."""

    def __init__(self, repo: JobRepo, settle_ms: int = SETTLE_MS) -> None:
        self.repo = repo
        self.settle_ms = settle_ms

    def groups(self) -> list[tuple[str, int]]:
        jobs = self.repo.all()
        return [(LOG_GROUP, min((ms(j.created_at) or 0 for j in jobs), default=0))]

    def _visible(self, job: JobRow) -> list[LogEvent]:
        cutoff = int(time.time() * 1000) - self.settle_ms
        return [e for e in render(job, self.repo.steps(job.name)) if e.timestamp <= cutoff]

    def streams(self, group: str) -> list[tuple[str, int, list[LogEvent]]] | None:
        """(stream name, creation time ms, its events) for every job; None: no such group."""
        if group != LOG_GROUP:
            return None
        return [(j.name + STREAM_SUFFIX, ms(j.created_at) or 0, self._visible(j)) for j in self.repo.all()]

    def events(self, group: str, stream: str) -> list[LogEvent] | None:
        """The stream's events; None when the group or stream does not exist. Stream names are exact
        (CloudWatch's are case-sensitive), though job names are unique regardless of case."""
        if group != LOG_GROUP or not stream.endswith(STREAM_SUFFIX):
            return None
        try:
            job = self.repo.get(stream[:-len(STREAM_SUFFIX)])
        except NotFoundError:
            return None
        if job.name + STREAM_SUFFIX != stream:
            return None
        return self._visible(job)
