"""A Default step: the highest load the endpoint sustains, measured rather than guessed.

One trial (`Search._trial`):

1. **Drain.** Single requests, one at a time, until one comes back near the unloaded latency: the
   endpoint has worked off whatever an earlier (overloaded) trial left queued. Then a short settle.
   Without this, the backlog of one overloaded trial fails every lower rate after it.
2. **Warm-up** (the first second) is discarded from both the rate and the latency; so is the last
   window, which holds the answers drained after the offered load stopped.
3. **Verdict** on the measured windows (``core.trial.judge``): completed ≥ 97 % of what was sent,
   errors < 1 %, latency within the limit, no growing queue.
4. **The generator is checked.** A trial whose load generator ran above ~85 % of its CPUs
   measured the generator; it is rerun with more generator processes, or the step fails saying so.

A Default step:

1. **Unloaded probe**: one user, for the unloaded latency.
2. **Capacity**: a closed loop that keeps every server slot busy with a queue behind it (checked by
   Little's law: the median latency is at least twice the unloaded one, else the users double),
   held in batches until the 95 % interval of its throughput is within ±3 % (or the cap). That
   throughput is the endpoint's capacity, measured rather than approached from below.
3. **Without a latency limit**, MaxInvocations is that capacity (read back to the full instance),
   with its interval, measured in two parts around an open-loop **hold** at 85 % of it
   (``core.trial.LATENCY_LOAD``) that gives ModelLatency and the percentiles (a hold that does not
   keep up steps down 5 % and holds again; the load it held at is ``Hold.TargetRps``).
4. **With a latency limit**, the open-loop search (``core.ratesearch``) brackets the highest rate
   that meets it, between 0 and the capacity, and the hold at that rate gives MaxInvocations.

When capacity cannot be measured (errors under saturation, a server that never queues within
``MAX_SATURATION_USERS`` users), the step falls back to the open-loop search and says why in
``Details.Capacity``. The rules a trial is judged by, and when a hold is sure enough, are pure and
live in ``infrec.core.trial``; this module does the I/O.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from infrec.core import trial as tr
from infrec.core.confidence import Interval
from infrec.core.emulation import Emulation
from infrec.core.ratesearch import RateSearch, TrialOutcome, initial_rate_guess
from infrec.core.stats import LoadResult, WindowStats
from infrec.core.traffic import OpenLoop, Phase, Phases
from infrec.loadgen import histogram
from infrec.loadgen.generator import generator_bound_reason, more_workers
from infrec.measure.context import RunContext
from infrec.measure.outcome import PERCENTILES, GeneratorBound, Outcome, latency
from infrec.measure.probes import DRAIN_MAX_S, drain
from infrec.measure.trials import Capacity, HoldTracker, TrialRun, judged_window, trial_figures

HOLD_STEP_DOWN = 0.95
HOLD_ATTEMPTS = 6


def server_slots(environment: dict[str, str], emulation: Emulation) -> int:
    """Requests one instance serves at once, as far as infrec knows: the model server's workers
    (SAGEMAKER_MODEL_SERVER_WORKERS, else one per vCPU it gets, the executor's default). Only a
    starting point: the capacity trial doubles its users until the server queues."""
    raw = str(environment.get("SAGEMAKER_MODEL_SERVER_WORKERS", "")).strip()
    try:
        workers = int(raw) if raw else 0
    except ValueError:
        workers = 0
    return max(1, workers or math.ceil(emulation.vcpus - 1e-9))


class Search:
    """One Default step: unloaded probe, rate search, hold. Keeps the trial log in `details`."""

    def __init__(self, context: RunContext, trial_seconds: float, hold_seconds: float, slots: int = 1) -> None:
        self.context = context
        self.emulation = context.emulation
        self.percentile, self.threshold = context.percentile, context.threshold
        self.cancel, self.deadline = context.cancel, context.deadline
        self.min_measured_s = max(1.0, trial_seconds)
        self.hold_seconds = max(hold_seconds, self.min_measured_s)
        self.on_progress, self.sampler, self.details = context.on_progress, context.sampler, context.details
        self.loadgen_cpus = context.loadgen_cpus
        self.slots = max(1, slots)
        self.workers = 1
        self.arrival = context.options.arrival
        self.warmup_s = context.options.warmup_s
        self.unloaded_ms = 10.0
        self.trials: list[dict[str, Any]] = []
        self.generator_busy_max = 0.0
        self.seed = 1

    # ------------------------------------------------------------------ whole step
    def run(self) -> Outcome | None:
        probe = self._load(Phases(phases=(Phase(initial_users=1, spawn_rate=0.0, duration_s=1.5),)), 15.0)
        self.unloaded_ms = max(probe.total.p50_ms, 0.05) if probe.total.successes else 10.0
        cpus = max(self.emulation.vcpus * self.emulation.count, 0.05)
        self.details.update(UnloadedP50Ms=round(self.unloaded_ms, 3), Arrival=self.arrival)
        if self.threshold is not None:
            self.details["LatencyLimitMs"] = self.threshold
        self.details["Trials"] = self.trials
        try:
            capacity = self._capacity()
            if capacity is not None and self.threshold is None:
                return self._capacity_outcome(capacity)
            if capacity is not None:
                # The latency limit caps the rate somewhere at or below capacity: search [0, capacity].
                search = RateSearch(initial_rps=capacity.rps * 0.9, max_rps=capacity.interval.high,
                                    percentile=self.percentile)
            else:
                search = RateSearch(initial_rps=initial_rate_guess(self.unloaded_ms, cpus), max_rps=200_000.0,
                                    percentile=self.percentile)
            while (rate := search.next_rate()) is not None:
                measured = tr.trial_seconds(rate, self.min_measured_s)
                if self._out_of_time(measured):
                    break
                run = self._trial(rate, measured, "search")
                if run is None:
                    break
                v = run.verdict
                search.record(TrialOutcome(target_rps=rate, achieved_rps=v.achieved_rps, error_rate=v.error_rate,
                                           latency_ms=v.latency_ms, verdict=v.why))
            self.details["SearchEndedBy"] = "stopped" if self.cancel.is_set() else (
                search.reason or ("JobDurationInSeconds" if time.time() >= self.deadline - 1 else "time"))
            failed = [t.outcome.target_rps for t in search.trials if not t.passed and t.outcome.target_rps > search.lo]
            self.details["FailedAtInvocations"] = (self.emulation.to_full(min(failed)) * 60.0) if failed else None
            if search.lo <= 0:
                whys = sorted({t.why for t in search.trials if not t.passed})
                if whys:
                    self.details["NoPassReason"] = "every rate failed on " + ", ".join(whys)
                return None
            outcome = self._hold(search.lo)
            if outcome is None and not self.cancel.is_set():
                self.details["NoPassReason"] = (
                    f"the search passed {search.lo:,.1f} req/s in a short trial, but the confirmation hold failed "
                    f"at it and {HOLD_ATTEMPTS - 1} lower rates (see Trials)")
            return outcome
        finally:
            self.details["GeneratorBusyMax"] = round(self.generator_busy_max, 3)
            self.details["LoadgenWorkers"] = self.workers

    # ------------------------------------------------------------------ capacity
    def _capacity_part_s(self) -> float:
        """Each of the capacity's two parts: half the hold cap (15 s by default), ending earlier once
        its interval is within ±3 %. This host's speed moves ±15 % over 20-second blocks; the two
        parts, a hold apart, average over that instead of sampling one block of it."""
        return max(self.min_measured_s, self.hold_seconds / 2)

    def _capacity(self) -> Capacity | None:
        """The saturated closed loop's first part (see the module doc), with users doubled until
        the server queues; None, with the reason in Details.Capacity, when the endpoint's capacity
        cannot be measured that way."""
        users = tr.saturating_users(self.slots, self.emulation.count)
        doc: dict[str, Any] = {}
        self.details["Capacity"] = doc
        while True:
            part = self._capacity_part(users, doubling=True)
            if part is None:
                return None
            if isinstance(part, Capacity):
                return part
            if part == "unsaturated":
                if users >= tr.MAX_SATURATION_USERS:
                    doc.update(Users=users, Note=f"the server did not queue with {users} requests in flight "
                                                 "(median latency under twice the unloaded one); the open-loop "
                                                 "search finds the rate instead")
                    return None
                users = min(users * 2, tr.MAX_SATURATION_USERS)
                continue
            doc.update(Users=users, Note=part)
            return None

    def _capacity_part(self, users: int, doubling: bool = False) -> Capacity | str | None:
        """One run of the saturated closed loop: a Capacity, "unsaturated", another reason it
        does not count (a string), or None when stopped or out of time."""
        part_s = self._capacity_part_s()
        if self._out_of_time(min(part_s, 3 * self.min_measured_s)):
            if doubling:
                self.details["Capacity"]["Note"] = "no time left to measure capacity"
            return None
        # Batches of ≥ 50 requests, sized from the most the users could complete unloaded.
        per_batch = tr.batch_windows(min(users, self.slots * self.emulation.count) * 1000.0 / self.unloaded_ms)
        live = HoldTracker("P50", per_batch)
        unsaturated: list[bool] = []

        def enough(measured: list[WindowStats]) -> bool:
            live.extend(measured)
            if doubling and len(measured) == 2 and not tr.saturated(histogram.merge_windows(measured).p50_ms,
                                                                      self.unloaded_ms):
                unsaturated.append(True)      # more users, at once: this run cannot become capacity
                return True
            # One batch more than the minimum: the run's last window is dropped afterwards.
            return len(live.batches) > tr.HOLD_MIN_BATCHES and live.state(latency_rhw=math.inf).converged

        run = self._trial(0.0, part_s, "capacity", enough=enough, users=users)
        if run is None:
            return None
        median = latency(run.merged, "P50") if run.merged.successes else math.nan
        if run.verdict.error_rate >= tr.MAX_ERROR_RATE:
            return (f"{100 * run.verdict.error_rate:.1f} % errors with {users} requests in flight; the open-loop "
                    "search finds the rate instead")
        if unsaturated or not tr.saturated(median, self.unloaded_ms):
            return "unsaturated" if doubling else (
                f"the server stopped queueing with {users} requests in flight (median {median:.1f} ms)")
        final = HoldTracker("P50", per_batch)
        final.extend(run.measured)
        secs = sum(w.duration_s for w in run.measured) or 1.0
        part = Capacity(users, final.batches, run.merged.successes, secs, [(run.start, run.end)])
        doc = self.details["Capacity"]
        doc.setdefault("Parts", []).append({"Rps": round(part.rps, 3), "Seconds": round(secs, 2),
                                            "MedianLatencyMs": round(median, 3)})
        self._describe(part)
        return part

    def _describe(self, capacity: Capacity) -> None:
        iv = capacity.interval
        self.details["Capacity"].update(
            Users=capacity.users, Seconds=round(capacity.seconds, 2), Rps=round(capacity.rps, 3),
            Batches=len(capacity.batches), Converged=capacity.state.converged,
            HalfWidthPercent=round(100 * iv.relative_half_width, 2) if iv.n >= 2 else None)

    def _capacity_outcome(self, capacity: Capacity) -> Outcome | None:
        """MaxInvocations = the capacity, measured in two parts around the open-loop hold at
        LATENCY_LOAD of it (which gives the latency). Two parts apart in time average over the
        host's own speed changes, and a host that changed speed between them widens the interval
        instead of hiding in one contiguous run."""
        emu = self.emulation
        held = self._hold(capacity.rps * tr.LATENCY_LOAD, queue_gate=False)
        if held is None:
            if not self.cancel.is_set():
                self.details["NoPassReason"] = (
                    f"capacity measured {capacity.rps:,.1f} req/s, but an open loop at {100 * tr.LATENCY_LOAD:.0f} % "
                    f"of it and at {HOLD_ATTEMPTS - 1} lower loads did not keep up or had errors (see Trials)")
            return None
        second = self._capacity_part(capacity.users)
        if isinstance(second, Capacity):
            capacity = capacity.joined(second)
            self._describe(capacity)
        elif isinstance(second, str):
            self.details["Capacity"]["SecondPartNote"] = second
        per_minute = 60.0 / emu.scale
        self.details["MaxInvocationsInterval"] = {**capacity.interval.scaled(per_minute).to_doc(),
                                                  "Converged": capacity.state.converged, "Source": "capacity"}
        self.details["FailedAtInvocations"] = None
        # Utilisation at MaxInvocations is the saturated runs', not the lighter latency hold's.
        samples = [self.sampler.between(a, b) for a, b in capacity.spans]
        cpu = sum(c for c, _ in samples) / len(samples)
        rss = max(r for _, r in samples)
        return replace(held, full_rps=emu.to_full(capacity.rps), cpu_percent=cpu, rss_bytes=max(rss, held.rss_bytes))

    def _out_of_time(self, seconds: float) -> bool:
        return self.cancel.is_set() or time.time() + self.warmup_s + seconds + 2.0 > self.deadline

    # ------------------------------------------------------------------ hold
    def _hold(self, rate: float, queue_gate: bool = True) -> Outcome | None:
        """Hold `rate` until its intervals are tight (or the cap); a failing hold steps down.

        `queue_gate=False` (the latency hold below a measured capacity): a rising latency alone does
        not fail the hold. The queue test exists to find, from below, the rate where an open loop
        stops keeping up; with capacity measured, a load under it keeps up by definition, and a
        latency that climbs in a 30-second hold is this host slowing down for a few seconds (its
        speed moves ±15 % over 20-second blocks), which the reported percentiles then include. Not
        keeping up (completed < 97 % of sent) and errors still fail it."""
        for attempt in range(1, HOLD_ATTEMPTS + 1):
            cap = self.hold_seconds
            if self._out_of_time(min(cap, 3 * self.min_measured_s)):
                break
            cap = min(cap, max(self.deadline - time.time() - self.warmup_s - 3.0, self.min_measured_s))
            per_batch = tr.batch_windows(rate)
            live = HoldTracker(self.percentile, per_batch)

            def enough(measured: list[WindowStats], live: HoldTracker = live) -> bool:
                live.extend(measured)
                # One batch more than the minimum: the run's last window is dropped afterwards.
                return len(live.batches) > tr.HOLD_MIN_BATCHES and live.state().converged

            run = self._trial(rate, cap, "hold", enough=enough)
            if run is None:
                return None
            if not run.verdict.passed and (queue_gate or run.verdict.why != "queue"):
                # A search trial is short and can pass by luck right at capacity; the hold is long
                # and says so. Step down 5 %, or — when it could not keep up — to just under what it
                # did complete, which is itself a measurement of capacity.
                lower = rate * HOLD_STEP_DOWN
                if run.verdict.why == "throughput" and run.verdict.achieved_rps > 0:
                    lower = min(lower, run.verdict.achieved_rps * tr.MIN_ACHIEVED)
                rate = lower
                continue
            # The final state over exactly the measured windows (the callback also saw the drain window).
            final = HoldTracker(self.percentile, per_batch)
            final.extend(run.measured)
            hold = final.state()
            ended = "converged" if hold.converged else ("stopped" if self.cancel.is_set() else "cap")
            outcome = self._outcome(run, rate, hold, len(final.batches), ended, attempt)
            self.details["Hold"]["Growth"] = round(run.verdict.growth, 3)
            return outcome
        return None

    def _outcome(self, run: TrialRun, rate: float, hold: tr.HoldState, batches: int, ended: str,
                 attempt: int) -> Outcome:
        emu = self.emulation
        merged = run.merged
        secs = sum(w.duration_s for w in run.measured) or 1.0
        rps = merged.successes / secs
        lat = latency(merged, self.percentile)
        per_minute = 60.0 / emu.scale
        tput = hold.throughput or Interval(rps, rps, rps, 1)
        self.details["MaxInvocationsInterval"] = {**tput.scaled(per_minute).to_doc(), "Windows": len(run.measured),
                                                  "Converged": hold.converged}
        if hold.latency is not None:
            self.details["ModelLatencyInterval"] = hold.latency.to_doc()
        self.details["Hold"] = {"TargetRps": round(rate, 3), "Seconds": round(secs, 2), "Batches": batches,
                                "EndedBy": ended, "Attempt": attempt,
                                "ThroughputHalfWidthPercent": round(100 * tput.relative_half_width, 2),
                                "LatencyHalfWidthPercent": (round(100 * hold.latency.relative_half_width, 2)
                                                            if hold.latency else None)}
        cpu, rss = self.sampler.between(run.start, run.end)
        return Outcome(full_rps=emu.to_full(rps), latency_ms=lat,
                       percentiles={p: latency(merged, p) for p in PERCENTILES},
                       error_rate=run.verdict.error_rate, cpu_percent=cpu, rss_bytes=rss)

    # ------------------------------------------------------------------ one trial
    def _trial(self, rate: float, measured_s: float, phase: str,
               enough: Callable[[list[WindowStats]], bool] | None = None,
               users: int | None = None) -> TrialRun | None:
        """Drain, then offer `rate` (or, given `users`, a closed loop of that many) for warm-up +
        `measured_s` (+ the drain window, discarded). Reruns with more generator processes when the
        generator was the limit."""
        while True:
            ctx = self.context
            drain_s = drain(ctx.urls, ctx.payloads[0], ctx.content_type, self.unloaded_ms,
                            min(DRAIN_MAX_S, max(self.deadline - time.time(), 1.0)), self.cancel)
            if self.cancel.is_set():
                return None
            run = self._offer(rate, measured_s, phase, enough, drain_s, users)
            if run is None:
                return None
            res = run.result
            self.generator_busy_max = max(self.generator_busy_max, res.generator_busy)
            if not res.generator_bound:
                return run
            self._log(rate, run, phase, verdict="generator", users=users)
            more = more_workers(res, self.loadgen_cpus)
            if more is None:
                raise GeneratorBound(generator_bound_reason(res))
            self.workers = more

    def _offer(self, rate: float, measured_s: float, phase: str,
               enough: Callable[[list[WindowStats]], bool] | None, drain_s: float,
               users: int | None = None) -> TrialRun | None:
        warm = math.ceil(self.warmup_s)
        whole = warm + math.ceil(measured_s) + 1         # + the drain window, discarded
        stop = threading.Event()
        seen: list[WindowStats] = []
        why_stopped: list[str] = []

        def on_window(w: WindowStats) -> None:
            seen.append(w)
            self.on_progress({"Phase": phase, "TargetRate": rate or None, "Users": users, "Rate": w.throughput,
                              "P95Ms": w.p95_ms, "Errors": w.errors})
            if self.cancel.is_set():
                why_stopped.append("stopped")
                stop.set()
                return
            measured = seen[warm:]
            if len(measured) >= 2:
                failing = tr.clear_failure([judged_window(m, self.percentile) for m in measured], self.threshold,
                                           self.unloaded_ms)
                if failing:
                    why_stopped.append(failing)
                    stop.set()
                    return
            if enough is not None and measured and enough(measured):
                why_stopped.append("enough")
                stop.set()

        self.seed += 1
        start = time.monotonic()
        shape: OpenLoop | Phases
        if users:
            shape = Phases(phases=(Phase(initial_users=users, spawn_rate=0.0, duration_s=float(whole)),))
        else:
            shape = OpenLoop(rate=rate, duration_s=float(whole), arrival=self.arrival,  # type: ignore[arg-type]
                             seed=self.seed)
        res = self._load(shape, whole + 15.0, stop=stop, on_window=on_window)
        end = time.monotonic()
        if self.cancel.is_set():
            return None
        windows = res.windows
        # Drop the warm-up, and the last window: it holds the answers drained after sending stopped.
        measured = windows[warm:-1] if len(windows) > warm + 1 else windows[-1:]
        if not measured:
            measured = windows
        plain = [judged_window(w, self.percentile) for w in measured]
        merged = histogram.merge_windows(measured)
        # The queue test compares the last third with the middle third: the first third belongs to
        # the queue's own settling from the drained start (long near saturation), not to a trend.
        n = len(measured)
        cut1, cut2 = (n // 3, 2 * n // 3) if n >= 3 else (0, max(1, n // 2))
        first = latency(histogram.merge_windows(measured[cut1:cut2]), self.percentile) if n >= 2 else math.nan
        second = latency(histogram.merge_windows(measured[cut2:]), self.percentile) if n >= 2 else math.nan
        verdict = tr.judge(plain, latency(merged, self.percentile) if merged.successes else math.nan,
                           first, second, self.unloaded_ms, self.threshold)
        if why_stopped and why_stopped[0] not in ("enough", "stopped") and verdict.passed:
            # Cut short as a clear failure: the windows seen say so even if the rest would not.
            verdict = replace(verdict, passed=False, why=why_stopped[0])
        run = TrialRun(verdict, measured, merged, res, start, end, drain_s)
        if not res.generator_bound:
            self._log(rate, run, phase, users=users)
        return run

    def _load(self, shape: Any, deadline_s: float, stop: threading.Event | None = None,
              on_window: Callable[[WindowStats], None] | None = None) -> LoadResult:
        return self.context.load(shape, deadline_s, on_window, stop=stop, workers=self.workers)

    def _log(self, rate: float, run: TrialRun, phase: str, verdict: str | None = None,
             users: int | None = None) -> None:
        v = run.verdict
        secs = sum(w.duration_s for w in run.measured) or 1.0
        sent = sum(judged_window(w, self.percentile).sent for w in run.measured)
        self.trials.append({
            "Phase": phase, "TargetRps": round(rate, 2) if not users else None, "Users": users,
            "SentRps": round(sent / secs, 2),
            "AchievedRps": round(v.achieved_rps, 2), "ErrorRate": round(v.error_rate, 4),
            f"{self.percentile}Ms": round(v.latency_ms, 3) if not math.isnan(v.latency_ms) else None,
            "Growth": round(v.growth, 3), "Seconds": round(secs, 2), "DrainSeconds": round(run.drain_s, 2),
            "GeneratorBusy": round(run.result.generator_busy, 3),
            "Verdict": verdict or ("pass" if v.passed else v.why),
            **trial_figures(run, self.emulation, self.sampler)})

