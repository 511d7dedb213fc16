"""Runs the AI jobs of `genai.ai_resources`, each kind as a `jobs.lifecycle.KindRunner`: `jobs.scheduler`
queues them with the real-time jobs (one job at a time: two measuring at once would share the host's
CPUs and measure each other), signals their stop and resumes them after a restart.

Every completed part is written to the job's document before the next one starts, and a resumed job
starts after the last completed part: a benchmark's levels, a recommendation's configurations. What
was completed keeps its figures and is never measured again; the part a killed server was measuring
is measured again, whole.

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
import io
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infrec.artifacts.uri import FileAccess
from infrec.core.catalog import Catalog, InstanceType
from infrec.core.errors import InfrecError, JobStopped
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
from infrec.executors.devices import HostDevices
from infrec.executors.hostlock import HostLock, HostLockTimeout
from infrec.genai.ai_resources import BENCHMARK, RECOMMENDATION, GenAIService
from infrec.genai.repo import AIJobRepo, now
from infrec.jobs import states
from infrec.jobs.hostwait import HostWait, hold_host
from infrec.jobs.lifecycle import RunStop, begin, conclude
from infrec.jobs.realtime_runner import RunnerOptions
from infrec.loadgen.genai import LevelPlan, run_level

log = logging.getLogger("infrec.genai")
LLMSIM_FILE = "llmsim.json"
MAX_LEVEL_S = 600.0
HOST_WAIT_S = 3600.0       # how long a job waits for another process's benchmark to end
CAPACITY_WAIT_S = 120.0    # how long a configuration waits for endpoints being deleted to free their CPUs
CAPACITY_POLL_S = 0.5


@dataclass(frozen=True)
class Config:
    """One configuration of a recommendation job: an instance type, engine settings, copies per
    instance; `index` is its place in the job's plan (and names its endpoint)."""

    index: int
    itype: InstanceType
    env: dict[str, str]
    copies: int

    def same_as(self, done: dict[str, Any]) -> bool:
        """Whether `done`, a configuration a previous run completed, is this one."""
        return (done.get("InstanceType"), done.get("EnvironmentVariables"), done.get("CopyCountPerInstance")) == (
            self.itype.name, self.env, self.copies)


def completed_prefix(done: list[dict[str, Any]], planned: Sequence[Any],
                     same: Callable[[Any, dict[str, Any]], bool]) -> list[dict[str, Any]]:
    """The parts a previous run completed, as long as they are the plan's first parts in order
    (`same(planned_part, done_part)`); a resumed job goes on after them."""
    kept: list[dict[str, Any]] = []
    for part, doc in zip(planned, done, strict=False):
        if not same(part, doc):
            break
        kept.append(doc)
    return kept


class AIJobRunner:
    """Runs the jobs of one AI kind (module doc); `jobs.scheduler` calls `run` one job at a time."""

    def __init__(self, service: GenAIService, repo: AIJobRepo, catalog: Catalog, executor: Executor,
                 home: Path, options: RunnerOptions | None = None) -> None:
        """`options`: the operator's settings this runner honours (the host lock's place, the load
        generator's bound), as the real-time runner's."""
        self.service = service
        self.options = options or RunnerOptions()
        self.repo = repo
        self.catalog = catalog
        self.executor = executor
        self.home = home

    def run(self, name: str, stop: RunStop) -> None:
        """Run the job to its end, or until `stop`: a user's stop ends it Stopped; a shutdown
        (`stop.interrupted`) leaves it InProgress for the next server to resume."""
        kind = self.repo.kind
        label = f"{kind} {name}"
        try:
            if not begin(self.repo, name):
                return
            if "StartTime" not in self.service.get(kind, name):  # a resumed job keeps its first start
                self.service.update(kind, name, StartTime=now())
            # One benchmark at a time per host, real-time or AI job, in this process or another.
            host = hold_host(HostWait(label, time.time() + HOST_WAIT_S, stop,
                                      lambda doc: self.service.update(kind, name, HostLock=doc)),
                             HostLock(self.options.host_lock))
            try:
                if kind == BENCHMARK:
                    self._benchmark(name, stop)
                else:
                    self._recommend(name, stop)
            finally:
                host.release(label)
            if not stop.interrupted:
                conclude(self.repo, name, states.STOPPED if stop.is_set() else states.COMPLETED)
        except JobStopped:
            if not stop.interrupted:
                conclude(self.repo, name, states.STOPPED)
        except Exception as exc:
            if stop.interrupted:  # what a shutdown cut short is run again by the next server
                log.info("%s: interrupted (%s: %s)", label, type(exc).__name__, exc)
                return
            if isinstance(exc, HostLockTimeout):
                reason = f"waited {HOST_WAIT_S:.0f} s for the host: {exc.who}"
            else:
                log.exception("%s failed", label)
                reason = exc.message if isinstance(exc, InfrecError) else f"{type(exc).__name__}: {exc}"
            try:
                conclude(self.repo, name, states.FAILED, reason[:1024])
            except Exception:
                log.exception("could not record the failure of %s", label)

    def _cpus(self) -> list[int] | None:
        try:
            return list(self.executor.loadgen_cpus()) or None
        except Exception:  # no CPU of its own: share (the result says how busy the generator was)
            return None

    # ---------------------------------------------------------------- benchmark
    def _benchmark(self, name: str, cancel: RunStop) -> None:
        doc = self.service.get(BENCHMARK, name)
        _, spec = self.service.workload_spec(doc["AIWorkloadConfigIdentifier"])
        url = self.service.resolve_target(doc)
        planned = list(spec.levels())
        levels = completed_prefix((doc.get("BenchmarkResults") or {}).get("Levels") or [], planned,
                                  lambda level, done: float(done.get("Level", -1)) == float(level))
        for level in planned[len(levels):]:
            if cancel.is_set():
                raise JobStopped
            stats, _ = run_level(LevelPlan(url, spec, level, cpu_ids=self._cpus(),
                                           deadline_s=MAX_LEVEL_S + spec.duration_s,
                                           loadgen=self.options.measure.loadgen), cancel)
            if cancel.interrupted:  # cut short by a shutdown: measured again, whole, on resume
                raise JobStopped
            levels.append(stats.to_doc())
            self.service.update(BENCHMARK, name, BenchmarkResults={"Levels": levels, "Workload": spec.to_doc()})
        prefix = doc["OutputConfig"]["S3OutputLocation"].rstrip("/") + f"/{name}"
        write_results(self.service.files, prefix, {"AIBenchmarkJobName": name, "Workload": spec.to_doc(), "Levels": levels})
        self.service.update(BENCHMARK, name, BenchmarkResults={"Levels": levels, "Workload": spec.to_doc(),
                                                               "OutputFiles": [f"{prefix}/results.json",
                                                                               f"{prefix}/results.csv"]})

    # ----------------------------------------------------------- recommendation
    def _recommend(self, name: str, cancel: RunStop) -> None:
        from infrec.executors.devices import accelerator_refusal

        doc = self.service.get(RECOMMENDATION, name)
        _, spec = self.service.workload_spec(doc["AIWorkloadConfigIdentifier"])
        framework = (doc.get("InferenceSpecification") or {}).get("Framework")
        model_uri = doc["ModelSource"]["S3"]["S3Uri"]
        work = Path(tempfile.mkdtemp(prefix=f"genai-{name}-", dir=self.home if self.home.is_dir() else None))
        try:
            model_dir = self.service.files.fetch_and_extract(model_uri, work / "model")
            image, base_env = image_for(model_dir, framework, self.executor.devices())
            devices = self.executor.devices()
            refusals: list[str] = []
            configs: list[Config] = []
            for tname in doc["ComputeSpec"]["InstanceTypes"]:
                itype = self.catalog.get(tname)
                why = accelerator_refusal(itype, devices)
                if why:
                    refusals.append(why)
                    continue
                first = len(configs)
                configs.extend(Config(first + n, itype, {**base_env, **env}, copies)
                               for n, (env, copies) in enumerate(spec.variants()))
            if not configs:
                raise RuntimeError("no instance type can run here: " + " | ".join(refusals))
            results = completed_prefix((doc.get("RecommendationResults") or {}).get("Configurations") or [],
                                       configs, Config.same_as)
            for config in configs[len(results):]:
                if cancel.is_set():
                    raise JobStopped
                res = self._measure_config(name, config, image, model_dir, spec, cancel)
                if cancel.interrupted:  # cut short by a shutdown: measured again, whole, on resume
                    raise JobStopped
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

    def _measure_config(self, job: str, config: Config, image: str, model_dir: Path, spec: WorkloadSpec,
                        cancel: RunStop) -> dict[str, Any]:
        from infrec.executors.base import EndpointSpec, EndpointStartError

        index, itype, env, copies = config.index, config.itype, config.env, config.copies
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
                                             cpu_ids=self._cpus(), deadline_s=MAX_LEVEL_S + spec.duration_s,
                                           loadgen=self.options.measure.loadgen), cancel)
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
                 passed: dict[int, LevelStats], out: dict[str, Any], cancel: RunStop) -> LevelStats | None:
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
                                     deadline_s=MAX_LEVEL_S + spec.confirmation_s,
                                     loadgen=self.options.measure.loadgen), cancel)
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

    def _start(self, ep: Any, cancel: RunStop) -> Any:
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


def image_for(model_dir: Path, framework: str | None, devices: HostDevices) -> tuple[str, dict[str, str]]:
    """The image (and its base environment) for a model folder (module doc); `devices`: what the
    executor's endpoints can be given (vLLM needs an NVIDIA GPU)."""
    if framework == "LMI":
        raise RuntimeError("InferenceSpecification.Framework LMI is a container image (DJL Serving): deploy it as an "
                           "endpoint from its image URI on a GPU host (Docker, --allow-commands) and measure it with an "
                           "AIBenchmarkJob; an AIRecommendationJob starts infrec/vllm (Framework VLLM) or infrec/llamacpp")
    if framework == "VLLM":
        from infrec.executors.devices import NVIDIA
        from infrec.serving.vllm import engine_refusal as vllm_refusal

        why = vllm_refusal(len(devices.of(NVIDIA)))
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


def write_results(files: FileAccess, prefix: str, doc: dict[str, Any]) -> None:
    """results.json (everything) and results.csv (one row per level of `doc["Levels"]`, as
    `LevelStats.to_doc` wrote them: a resumed job has its earlier levels' figures as documents only)
    under `prefix`."""
    files.write_bytes(f"{prefix}/results.json", json.dumps(doc, indent=2).encode())
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["level", "mode", "requests", "errors", "request_throughput", "output_tokens_per_s", "goodput",
                "ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "itl_p50_ms", "itl_p90_ms", "itl_p99_ms",
                "e2e_p50_ms", "e2e_p90_ms", "e2e_p99_ms"])
    for lv in doc["Levels"]:
        w.writerow([lv["Level"], lv["Mode"], lv["Requests"], lv["Errors"], lv["RequestThroughput"],
                    lv["OutputTokensPerSecond"], lv["Goodput"],
                    *(lv[key].get(p, 0.0) for key in ("TimeToFirstTokenMs", "InterTokenLatencyMs", "RequestLatencyMs")
                      for p in ("p50", "p90", "p99"))])
    files.write_bytes(f"{prefix}/results.csv", buf.getvalue().encode())
