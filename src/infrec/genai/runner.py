"""Runs the AI jobs of `genai.service`: one at a time on one thread (two jobs measuring at once would
share the host's CPUs and measure each other), each with a stop event and a deadline.

AIBenchmarkJob: every level of the workload (its concurrencies or request rates) against the
target with the token-aware generator (`loadgen.genai.run_level`), figures in Describe
(`BenchmarkResults`, an infrec extension boto3 ignores) and as files under
``OutputConfig.S3OutputLocation/<job>/`` (``results.json``, ``results.csv``).

AIRecommendationJob: for every instance type × engine setting × copies per instance, an endpoint of
the model's image is started on the executor (n copies: n processes, each in 1/n of the instance), the
largest concurrency meeting every SLA is searched with 95 % intervals
(`core.genai.ConcurrencySearch`, `judge_level`: an undecided level is measured again, longer, and
never passes on one sample), the configuration is costed per 1M output tokens, and the passing
configurations are ranked by the PerformanceTarget's first metric into Recommendations.

Images: a model folder holding ``llmsim.json`` (INFREC_LLMSIM_* settings) runs on ``infrec/llmsim``;
one holding a ``*.gguf`` runs on ``infrec/llamacpp`` (llama-cpp-python's server from the engine's
own environment, `make llamacpp`; refused with the fix where it is not installed);
InferenceSpecification.Framework VLLM runs ``infrec/vllm`` (vLLM's server on each instance's own
GPUs) where the host has NVIDIA GPUs and vLLM; elsewhere it is refused with the reason, never
measured on a CPU. LMI is a container image: deployed as an endpoint, measured by an AIBenchmarkJob.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import queue
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from infrec.artifacts.uri import FileAccess
from infrec.core.catalog import Catalog
from infrec.core.genai import (
    FAIL,
    PASS,
    ConcurrencySearch,
    LevelStats,
    copies_refusal,
    cost_per_million_tokens,
    judge_level,
    pool_levels,
    rank_with_ties,
)
from infrec.core.workload import WorkloadSpec
from infrec.executors.base import Executor
from infrec.executors.hostlock import HostLock, HostLockCancelled, HostLockTimeout
from infrec.genai.service import (
    BENCHMARK,
    COMPLETED,
    FAILED,
    RECOMMENDATION,
    STOPPED,
    GenAIService,
)
from infrec.loadgen.genai import LevelPlan, run_level

log = logging.getLogger("infrec.genai")
LLMSIM_FILE = "llmsim.json"
MAX_LEVEL_S = 600.0
HOST_WAIT_S = 3600.0       # how long a job waits for another process's benchmark to end
CAPACITY_WAIT_S = 120.0    # how long a configuration waits for endpoints being deleted to free their CPUs
CAPACITY_POLL_S = 0.5


class JobStopped(Exception):
    pass


def _now() -> float:
    return round(time.time(), 3)


class GenAIRunner:
    """One thread, one job at a time (module doc)."""

    def __init__(self, service: GenAIService, catalog: Catalog, executor: Executor, home: Path) -> None:
        self.service = service
        self.catalog = catalog
        self.executor = executor
        self.home = home
        self.queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.cancels: dict[tuple[str, str], threading.Event] = {}
        for kind, name in service.unfinished():  # what a killed server left: said, not resumed
            service.update(kind, name, FAILED, FailureReason="the infrec server stopped while this job ran; "
                           "create it again", EndTime=_now())
        self.thread = threading.Thread(target=self._loop, name="infrec-genai", daemon=True)
        self.thread.start()

    def submit(self, kind: str, name: str) -> None:
        self.cancels[(kind, name)] = threading.Event()
        self.queue.put((kind, name))

    def stop(self, kind: str, name: str) -> None:
        ev = self.cancels.get((kind, name))
        if ev is not None:
            ev.set()
        else:
            self.service.update(kind, name, STOPPED, EndTime=_now())

    def shutdown(self, timeout_s: float = 30.0) -> None:
        for ev in self.cancels.values():
            ev.set()
        self.queue.put(None)
        self.thread.join(timeout_s)

    def _cpus(self) -> list[int] | None:
        try:
            return list(self.executor.loadgen_cpus()) or None
        except Exception:  # no CPU of its own: share (the result says how busy the generator was)
            return None

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            kind, name = item
            cancel = self.cancels.setdefault(item, threading.Event())
            host = HostLock()
            try:
                self.service.update(kind, name, StartTime=_now())
                if cancel.is_set():
                    raise JobStopped
                # One benchmark at a time per host, real-time or AI job, in this process or another:
                # two measuring at once would share the CPUs and measure each other.
                told: list[str] = []
                try:
                    waited = host.acquire(f"{kind} {name}", deadline=time.time() + HOST_WAIT_S, cancel=cancel,
                                          on_wait=functools.partial(self._waiting, kind, name, told))
                except HostLockCancelled:
                    raise JobStopped from None
                except HostLockTimeout as exc:
                    raise RuntimeError(f"waited {HOST_WAIT_S:.0f} s for the host: {exc.who}") from None
                if told:
                    self.service.update(kind, name, HostLock={"WaitedSeconds": round(waited, 1)})
                try:
                    if kind == BENCHMARK:
                        self._benchmark(name, cancel)
                    else:
                        self._recommend(name, cancel)
                finally:
                    host.release(f"{kind} {name}")
                self.service.update(kind, name, STOPPED if cancel.is_set() else COMPLETED, EndTime=_now())
            except JobStopped:
                self.service.update(kind, name, STOPPED, EndTime=_now())
            except Exception as exc:
                log.exception("%s %s failed", kind, name)
                with_reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                try:
                    self.service.update(kind, name, FAILED, FailureReason=str(with_reason)[:1024], EndTime=_now())
                except Exception:
                    log.exception("could not record the failure of %s %s", kind, name)
            finally:
                self.cancels.pop(item, None)

    def _waiting(self, kind: str, name: str, told: list[str], message: str) -> None:
        """Say in the job's Describe (HostLock.Waiting, an infrec extension) whom it waits for."""
        told.append(message)
        log.warning("%s %s: %s", kind, name, message)
        try:
            self.service.update(kind, name, HostLock={"Waiting": message})
        except Exception:  # showing the wait must never end it
            log.exception("%s %s: could not record the wait for the host", kind, name)

    # ---------------------------------------------------------------- benchmark
    def _benchmark(self, name: str, cancel: threading.Event) -> None:
        doc = self.service.get(BENCHMARK, name)
        _, spec = self.service.workload_spec(doc["AIWorkloadConfigIdentifier"])
        url = self.service.resolve_target(doc)
        levels: list[dict[str, Any]] = []
        stats_all: list[LevelStats] = []
        for level in spec.levels():
            if cancel.is_set():
                raise JobStopped
            stats, _ = run_level(LevelPlan(url, spec, level, cpu_ids=self._cpus(),
                                           deadline_s=MAX_LEVEL_S + spec.duration_s), cancel)
            stats_all.append(stats)
            levels.append(stats.to_doc())
            self.service.update(BENCHMARK, name, BenchmarkResults={"Levels": levels, "Workload": spec.to_doc()})
        prefix = doc["OutputConfig"]["S3OutputLocation"].rstrip("/") + f"/{name}"
        write_results(self.service.files, prefix, {"AIBenchmarkJobName": name, "Workload": spec.to_doc(), "Levels": levels}, stats_all)
        self.service.update(BENCHMARK, name, BenchmarkResults={"Levels": levels, "Workload": spec.to_doc(),
                                                               "OutputFiles": [f"{prefix}/results.json",
                                                                               f"{prefix}/results.csv"]})

    # ----------------------------------------------------------- recommendation
    def _recommend(self, name: str, cancel: threading.Event) -> None:
        from infrec.executors.devices import accelerator_refusal, host_devices

        doc = self.service.get(RECOMMENDATION, name)
        _, spec = self.service.workload_spec(doc["AIWorkloadConfigIdentifier"])
        framework = (doc.get("InferenceSpecification") or {}).get("Framework")
        model_uri = doc["ModelSource"]["S3"]["S3Uri"]
        work = Path(tempfile.mkdtemp(prefix=f"genai-{name}-", dir=self.home if self.home.is_dir() else None))
        try:
            model_dir = self.service.files.fetch_and_extract(model_uri, work / "model")
            image, base_env = image_for(model_dir, framework)
            devices = host_devices()
            refusals: list[str] = []
            configs: list[tuple[Any, dict[str, str], int]] = []
            for tname in doc["ComputeSpec"]["InstanceTypes"]:
                itype = self.catalog.get(tname)
                why = accelerator_refusal(itype, devices)
                if why:
                    refusals.append(why)
                    continue
                configs.extend((itype, {**base_env, **env}, copies) for env, copies in spec.variants())
            if not configs:
                raise RuntimeError("no instance type can run here: " + " | ".join(refusals))
            results: list[dict[str, Any]] = []
            for i, (itype, env, copies) in enumerate(configs):
                if cancel.is_set():
                    raise JobStopped
                res = self._measure_config(name, i, itype, env, copies, image, model_dir, spec, cancel)
                results.append(res)
                self.service.update(RECOMMENDATION, name, RecommendationResults={"Configurations": results,
                                                                                 "Refused": refusals})
            recs = recommendations(results, doc, image, spec)
            prefix = doc["OutputConfig"]["S3OutputLocation"].rstrip("/") + f"/{name}"
            self.service.files.write_bytes(f"{prefix}/recommendations.json", json.dumps(
                {"Recommendations": recs, "Configurations": results, "Refused": refusals}, indent=2).encode())
            if not recs:
                raise RuntimeError("no configuration met the SLAs at any concurrency: " + "; ".join(
                    f"{r['InstanceType']} {r['EnvironmentVariables']}: {r.get('Why') or 'failed'}" for r in results))
            self.service.update(RECOMMENDATION, name, Recommendations=recs)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _measure_config(self, job: str, index: int, itype: Any, env: dict[str, str], copies: int, image: str,
                        model_dir: Path, spec: WorkloadSpec, cancel: threading.Event) -> dict[str, Any]:
        from infrec.executors.base import EndpointSpec, EndpointStartError

        cpus, mem_gib = self.executor.capacity()
        # A type larger than this host runs at a fraction of its vCPUs (recorded; figures are not
        # extrapolated); memory is not scaled below what the type gives while the host has it.
        scale = min(1.0, cpus / itype.vcpus)
        mem = min(itype.memory_bytes, int(mem_gib * 1024**3))
        # n copies on one instance: n processes, each inside 1/n of the instance's vCPUs and memory
        # (the executor's instances at scale/n), together exactly the one instance that is priced.
        ep = EndpointSpec(name=f"{job}-{index}", image=image, model_dir=model_dir, environment=dict(env),
                          instance_type=itype, instance_count=copies, scale=scale / copies,
                          memory_limit_bytes=mem // copies)
        out: dict[str, Any] = {"InstanceType": itype.name, "EnvironmentVariables": env, "CopyCountPerInstance": copies,
                               "EmulationScale": scale, "Levels": [], "MaxConcurrency": 0}
        # A configuration that cannot run says why and the job goes on with the others.
        gpus = itype.accelerators.count if itype.accelerators else 0
        if why := copies_refusal(itype.vcpus * scale, copies, gpus):
            out["Why"] = why
            return out
        try:
            handle = self._start(ep, cancel)
        except EndpointStartError as exc:
            out["Why"] = f"the endpoint did not start: {exc}"
            return out
        try:
            url: str | list[str] = handle.urls[0] if copies == 1 else list(handle.urls)
            search = ConcurrencySearch(ceiling=spec.max_concurrency)
            runs: dict[int, list[LevelStats]] = {}
            passed: dict[int, LevelStats] = {}
            while (step := search.next()) is not None:
                if cancel.is_set():
                    raise JobStopped
                c, longer = step
                run, _ = run_level(LevelPlan(url, spec, c, duration_s=spec.duration_s * (2 if longer else 1),
                                             cpu_ids=self._cpus(), deadline_s=MAX_LEVEL_S + spec.duration_s), cancel)
                runs.setdefault(c, []).append(run)
                stats = pool_levels(runs[c])        # a level measured again keeps its earlier evidence
                verdict = judge_level(stats, spec.slas)
                search.record(c, verdict.verdict)
                out["Levels"].append({**stats.to_doc(), "Verdict": verdict.verdict, "Reasons": list(verdict.reasons)})
                if verdict.verdict == PASS:
                    passed[c] = stats
                elif verdict.verdict == FAIL and "Why" not in out and c == 1:
                    out["Why"] = "; ".join(verdict.reasons)
            best = self._confirm(url, spec, passed[max(passed)] if passed else None, runs, passed, out, cancel)
        finally:
            self.executor.stop(handle)
        out["MaxConcurrency"] = int(best.level) if best is not None else 0
        if best is not None:
            iv = best.tokens_per_s_interval()
            out.update(TokensPerSecond=best.output_tokens_per_s, TtftP90Ms=best.ttft_ms.get("p90"),
                       ItlP90Ms=best.itl_ms.get("p90"), E2eP90Ms=best.e2e_ms.get("p90"),
                       RequestThroughput=best.request_throughput,
                       TokensPerSecondInterval=[iv.low, iv.high] if iv else None,
                       PricePerHour=itype.price_per_hour,
                       CostPerMillionOutputTokens=cost_per_million_tokens(itype.price_per_hour, 1,
                                                                          best.output_tokens_per_s))
        elif "Why" not in out:
            out["Why"] = "no concurrency passed every SLA with 95 % confidence"
        return out

    def _confirm(self, url: str | list[str], spec: WorkloadSpec, best: LevelStats | None, runs: dict[int, list[LevelStats]],
                 passed: dict[int, LevelStats], out: dict[str, Any], cancel: threading.Event) -> LevelStats | None:
        """Hold the concurrency the search found for `spec.confirmation_s` more and judge it on all its
        runs, as a real-time job's confirmation hold does: the search's short runs decide where to
        look, the reported figures rest on the longer evidence. A level that no longer passes gives
        way to the largest lower one that did (its own figures; it is not held again)."""
        if best is None or not spec.confirmation_s > 0:
            return best
        if cancel.is_set():
            raise JobStopped
        c = int(best.level)
        run, _ = run_level(LevelPlan(url, spec, c, duration_s=spec.confirmation_s, cpu_ids=self._cpus(),
                                     deadline_s=MAX_LEVEL_S + spec.confirmation_s), cancel)
        runs[c].append(run)
        stats = pool_levels(runs[c])
        verdict = judge_level(stats, spec.slas)
        out["Levels"].append({**stats.to_doc(), "Verdict": verdict.verdict, "Reasons": list(verdict.reasons),
                              "Confirmation": True})
        if verdict.verdict == PASS:
            return stats
        out.setdefault("Notes", []).append(f"concurrency {c} passed the search but not its confirmation hold "
                                           f"({'; '.join(verdict.reasons) or verdict.verdict})")
        lower = [k for k in passed if k < c]
        return passed[max(lower)] if lower else None

    def _start(self, ep: Any, cancel: threading.Event) -> Any:
        """Start a configuration's endpoint; while endpoints of this process (a hosted one being
        deleted, say) hold the CPUs it needs, wait for them, up to CAPACITY_WAIT_S."""
        from infrec.executors.base import CapacityError, EndpointStartError

        end = time.monotonic() + CAPACITY_WAIT_S
        while True:
            try:
                return self.executor.start(ep, cancel)
            except CapacityError as exc:
                if time.monotonic() >= end:
                    raise EndpointStartError(f"{exc} (waited {CAPACITY_WAIT_S:.0f} s for them)") from None
                if cancel.wait(CAPACITY_POLL_S):
                    raise JobStopped from None


def image_for(model_dir: Path, framework: str | None) -> tuple[str, dict[str, str]]:
    """The image (and its base environment) for a model folder (module doc)."""
    if framework == "LMI":
        raise RuntimeError("InferenceSpecification.Framework LMI is a container image (DJL Serving): deploy it as an "
                           "endpoint from its image URI on a GPU host (Docker, --allow-commands) and measure it with an "
                           "AIBenchmarkJob; an AIRecommendationJob starts infrec/vllm (Framework VLLM) or infrec/llamacpp")
    if framework == "VLLM":
        from infrec.executors.devices import NVIDIA, host_devices
        from infrec.serving.vllm import engine_refusal as vllm_refusal

        why = vllm_refusal(len(host_devices().of(NVIDIA)))
        if why:
            raise RuntimeError(f"InferenceSpecification.Framework VLLM runs on infrec/vllm, but {why}")
        if not (model_dir / "config.json").is_file():
            raise RuntimeError("ModelSource: a model for vLLM is a Hugging Face folder with config.json (and its "
                               "weights and tokenizer) at the root of the S3 prefix")
        return "infrec/vllm", {}
    sim = model_dir / LLMSIM_FILE
    if sim.is_file():
        try:
            settings = json.loads(sim.read_text())
        except ValueError as exc:
            raise RuntimeError(f"ModelSource: {LLMSIM_FILE} is not JSON: {exc}") from None
        if not isinstance(settings, dict):
            raise RuntimeError(f"ModelSource: {LLMSIM_FILE} must hold an object of INFREC_LLMSIM_* settings")
        return "infrec/llmsim", {str(k): str(v) for k, v in settings.items() if str(k).startswith("INFREC_LLMSIM_")}
    if any(model_dir.rglob("*.gguf")):
        from infrec.serving.llamacpp import engine_refusal

        why = engine_refusal()
        if why:
            raise RuntimeError(f"ModelSource holds a GGUF model, which runs on infrec/llamacpp, but {why}")
        return "infrec/llamacpp", {}
    raise RuntimeError(f"ModelSource: found neither a *.gguf model nor {LLMSIM_FILE} in {model_dir.name}")


def recommendations(results: list[dict[str, Any]], doc: dict[str, Any], image: str,
                    spec: WorkloadSpec) -> list[dict[str, Any]]:
    """Passing configurations ranked by the PerformanceTarget's first metric, in SageMaker's shape."""
    passing = [r for r in results if r.get("MaxConcurrency")]
    metric = next((c["Metric"] for c in (doc.get("PerformanceTarget") or {}).get("Constraints", [])), "cost")
    keyed = [{"cost": r.get("CostPerMillionOutputTokens"), "tokens_per_s": r["TokensPerSecond"],
              "tokens_interval": r.get("TokensPerSecondInterval"), "price": r.get("PricePerHour"),
              "ttft_ms": r.get("TtftP90Ms") or 0.0} for r in passing]
    ranked = rank_with_ties(keyed, metric)
    rank_of = {i: n + 1 for n, (i, _) in enumerate(ranked)}
    out = []
    model_uri = doc["ModelSource"]["S3"]["S3Uri"]
    pct = spec.slas.percentile
    for i, tied in ranked:
        r = passing[i]
        copies = int(r.get("CopyCountPerInstance", 1))
        r["Rank"], r["TiedWithRanks"] = rank_of[i], sorted(rank_of[j] for j in tied)
        perf = [{"Metric": "max-concurrency", "Value": str(r["MaxConcurrency"]), "Unit": "requests"},
                {"Metric": "throughput", "Stat": "mean", "Value": f"{r['TokensPerSecond']:.3f}",
                 "Unit": "output-tokens/s"},
                {"Metric": "request-throughput", "Stat": "mean", "Value": f"{r['RequestThroughput']:.4f}",
                 "Unit": "requests/s"}]
        if r.get("CostPerMillionOutputTokens") is not None:
            perf.append({"Metric": "cost", "Value": f"{r['CostPerMillionOutputTokens']:.4f}",
                         "Unit": "USD/1M-output-tokens"})
        for metric_name, key in (("ttft-ms", "TtftP90Ms"), ("itl-ms", "ItlP90Ms"), ("e2e-ms", "E2eP90Ms")):
            if r.get(key) is not None:
                perf.append({"Metric": metric_name, "Stat": f"p{pct if pct == 90 else 90}",
                             "Value": f"{r[key]:.3f}", "Unit": "ms"})
        out.append({
            "RecommendationDescription": (f"{r['InstanceType']} with {r['EnvironmentVariables'] or 'defaults'}"
                                          + (f", {copies} copies of the model" if copies > 1 else "") + ": "
                                          f"up to {r['MaxConcurrency']} concurrent requests within the SLAs "
                                          f"(emulation scale {r['EmulationScale']:.2f})"
                                          + (f"; throughput tied with #{', #'.join(map(str, r['TiedWithRanks']))}"
                                             " (ranked by price among ties)" if r["TiedWithRanks"] else "")),
            "ModelDetails": {"InstanceDetails": [{"InstanceType": r["InstanceType"], "InstanceCount": 1,
                                                  "CopyCountPerInstance": copies}]},
            "DeploymentConfiguration": {"S3": [{"ChannelName": "model", "Uri": model_uri}], "ImageUri": image,
                                        "InstanceType": r["InstanceType"], "InstanceCount": 1,
                                        "CopyCountPerInstance": copies, "EnvironmentVariables": r["EnvironmentVariables"]},
            "ExpectedPerformance": perf})
    return out


def write_results(files: FileAccess, prefix: str, doc: dict[str, Any], levels: list[LevelStats]) -> None:
    """results.json (everything) and results.csv (one row per level) under `prefix`."""
    files.write_bytes(f"{prefix}/results.json", json.dumps(doc, indent=2).encode())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["level", "mode", "requests", "errors", "request_throughput", "output_tokens_per_s", "goodput",
                "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p90_ms", "itl_p99_ms",
                "e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms"])
    for s in levels:
        w.writerow([s.level, "request_rate" if s.open_loop else "concurrency", s.requests, s.errors,
                    round(s.request_throughput, 4), round(s.output_tokens_per_s, 3), round(s.goodput, 4),
                    *(round(d.get(p, 0.0), 3) for d in (s.ttft_ms, s.itl_ms, s.e2e_ms) for p in ("p50", "p90", "p99"))])
    files.write_bytes(f"{prefix}/results.csv", buf.getvalue().encode())
