"""The token-aware load generator: one level (a concurrency or an offered rate) of a generative-AI
workload against an OpenAI-compatible server, on the generator engine (`run_load`) — the same
forked, pinned worker processes, open and closed loop, per-second windows and generator checks —
with `infrec.loadgen.tokens.TokenWorker` recording TTFT, ITL and token counts per request.

`run_level` (given a `LevelPlan`) builds the prompts (synthetic, seeded: AIPerf's mean/stddev
token counts, one word per token for servers that count words, which a BPE tokenizer also mostly
keeps as one token each; or the workload's dataset, drawn sequentially, shuffled or at random),
runs the level for warm-up + duration (or until `request_count` answers), drops the warm-up
windows and returns `core.genai.LevelStats`: throughput, output tokens/s, goodput, P50/P90/P99
of TTFT, ITL and end-to-end latency, and per-batch values for intervals.
"""

from __future__ import annotations

import functools
import json
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infrec.core.genai import LevelStats, batch_size
from infrec.core.stats import LoadResult, WindowStats
from infrec.core.traffic import OpenLoop, Phase, Phases
from infrec.core.workload import WorkloadSpec, token_counts
from infrec.loadgen import histogram
from infrec.loadgen.generator import LoadgenOptions, LoadPlan, run_load
from infrec.loadgen.payloads import Payload
from infrec.loadgen.tokens import TokenOptions, TokenWorker

# Short, common English words: one token each in the usual BPE vocabularies and one word each for
# servers that count whitespace-separated words (infrec/llmsim).
_WORD_TEXT = ("the of and to in is was for on are as with his they at be this from have or by one had not but "
         "what all were when we there can an your which their said if do will each about how up out them "
         "then she many some so these would other into has more her two like him see time could no make "
         "than first been its who now people my made over did down only way find use may water long little "
         "very after words called just where most know get through back much before go good new write our "
         "used me man too any day same right look think also around another came come work three word must "
         "because does part even place well such here take why things help put years different away again "
         "off went old number great tell men say small every found still between name should home big give "
         "air line set own under read last never us left end along while might next sound below saw something")
WORDS = tuple(_WORD_TEXT.split())
PERCENTILES = (50, 90, 99)


DATASET_DRAWS = 4096     # random sampling: this many draws, cycled by the engine


def _dataset_order(spec: WorkloadSpec, rng: random.Random) -> list[int]:
    """Which prompt each payload is, per the spec's sampling (AIPerf's names): sequential in file
    order; shuffle: every prompt once in a seeded order; random: seeded draws with replacement."""
    n = len(spec.dataset)
    if spec.dataset_sampling == "random":
        return [rng.randrange(n) for _ in range(max(n, min(DATASET_DRAWS, 16 * n)))]
    order = list(range(n))
    if spec.dataset_sampling == "shuffle":
        rng.shuffle(order)
    return order


def build_payloads(spec: WorkloadSpec, n: int | None = None,
                   count_tokens: Callable[[str], int] | None = None) -> tuple[list[Payload], list[int]]:
    """Request bodies (and each one's input tokens) for `spec`, seeded so a rerun sends the same.

    Synthetic prompts are words counted one token each; a dataset's prompts are counted with the
    tokenizer when the spec has one, else by words (the server's ``usage.prompt_tokens``, when it
    sends one, replaces either in the figures)."""
    rng = random.Random(spec.seed)
    texts: list[str]
    isl: list[int]
    osl: list[int]
    if spec.dataset:
        order = _dataset_order(spec, rng)
        drawn = [spec.dataset[i] for i in order]
        texts = [p.text for p in drawn]
        isl = [count_tokens(t) if count_tokens else len(t.split()) for t in texts]
        fallback = token_counts(spec.output_tokens_mean, spec.output_tokens_stddev, len(drawn), rng)
        osl = [p.output_tokens or f for p, f in zip(drawn, fallback, strict=True)]
    else:
        count = n or min(256, max(16, (spec.request_count or 0)))
        isl = token_counts(spec.input_tokens_mean, spec.input_tokens_stddev, count, rng)
        osl = token_counts(spec.output_tokens_mean, spec.output_tokens_stddev, count, rng)
        texts = [" ".join(rng.choice(WORDS) for _ in range(n_in)) for n_in in isl]
    payloads: list[Payload] = []
    for i, (prompt, n_out) in enumerate(zip(texts, osl, strict=True)):
        body: dict[str, Any] = {"model": spec.model, "max_tokens": n_out, "stream": spec.streaming}
        if spec.endpoint_type == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        if spec.streaming:
            body["stream_options"] = {"include_usage": True}
        body.update(spec.extra_inputs)
        payloads.append(Payload(json.dumps(body, separators=(",", ":")).encode(), "application/json", f"prompt-{i}"))
    return payloads, isl


def load_tokenizer(path: str | None) -> Callable[[str], int] | None:
    """A token counter from a Hugging Face tokenizer.json when `tokenizers` is installed, else None
    (the server's usage field counts instead). Built here, in the parent, before any fork."""
    if not path:
        return None
    try:
        from tokenizers import Tokenizer  # optional: not a dependency of infrec
    except ImportError:
        return None
    tok = Tokenizer.from_file(path)
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True)
class LevelPlan:
    """One level of a workload: `level` users (closed loop) or req/s (open loop, when the spec has
    request_rate) of `spec` against `target`. Several targets (the copies of a model on one
    instance) share the level: each request goes to the one with the fewest outstanding, as
    SageMaker routes between inference component copies. `duration_s` replaces the spec's measured
    duration; `deadline_s` bounds the whole run (by default the run plus the spec's timeout and
    30 s); `workers` generator processes pinned to `cpu_ids`; `path` replaces the spec's."""

    target: str | Sequence[str]
    spec: WorkloadSpec
    level: float
    duration_s: float | None = None
    deadline_s: float | None = None
    workers: int = 1
    cpu_ids: list[int] | None = None
    path: str | None = None
    loadgen: LoadgenOptions = field(default_factory=LoadgenOptions)


def run_level(plan: LevelPlan, cancel: threading.Event | None = None,
              on_window: Callable[[WindowStats], None] | None = None) -> tuple[LevelStats, LoadResult]:
    """Run one level (see `LevelPlan`) and read it: drop the warm-up, merge the rest (`summarize`).
    With the spec's request_count the run ends once that many answers came after the warm-up (or on
    `cancel`)."""
    spec, level = plan.spec, plan.level
    tokenizer = load_tokenizer(spec.tokenizer)
    payloads, isl = build_payloads(spec, count_tokens=tokenizer)
    warm, total_s = _timing(spec, plan.duration_s)
    shape: Phases | OpenLoop
    if spec.open_loop:
        shape = OpenLoop(rate=level, duration_s=total_s, arrival="poisson", seed=spec.seed)
    else:
        shape = Phases((Phase(initial_users=int(level), spawn_rate=0.0, duration_s=total_s),))
    s = spec.slas
    opts = TokenOptions(stream=spec.streaming, input_tokens=tuple(isl), ttft_sla_ms=s.ttft_ms, itl_sla_ms=s.itl_ms,
                        e2e_sla_ms=s.e2e_ms, tokenizer=tokenizer,
                        max_requests=spec.request_count)
    extras: dict[int, list[tuple[Any, ...]]] = {}
    stop = cancel if spec.request_count is None else threading.Event()
    answered = [0]

    def on_parts(k: int, parts: list[tuple[Any, ...]]) -> None:
        extras[k] = [p[12:] for p in parts if len(p) > 12]

    def watch(w: WindowStats) -> None:
        if on_window is not None:
            on_window(w)
        if spec.request_count is not None:
            if w.start_s >= warm:
                answered[0] += w.successes
            if answered[0] >= spec.request_count or (cancel is not None and cancel.is_set()):
                stop.set()  # type: ignore[union-attr]

    targets = [plan.target] if isinstance(plan.target, str) else list(plan.target)
    load = LoadPlan(targets, payloads, shape, deadline_s=plan.deadline_s or total_s + spec.timeout_s + 30.0,
                    content_type="application/json", timeout_s=spec.timeout_s, workers=plan.workers,
                    # a dataset's order is already in the payloads (sampling strategy): send them round-robin
                    seed=None if spec.dataset else spec.seed, max_connections=max(64, int(level) * 2 + 8),
                    cpu_ids=plan.cpu_ids, path=plan.path or spec.path,
                    worker_factory=functools.partial(TokenWorker, opts=opts))
    result = run_load(load, cancel=stop, on_window=watch, on_parts=on_parts, options=plan.loadgen)
    return summarize(result, extras, level, spec, warm), result


def _timing(spec: WorkloadSpec, duration_s: float | None) -> tuple[float, float]:
    """(warm-up seconds, whole seconds) of a level: warm-up + the measured duration, or — with a
    request_count — no warm-up and a generous bound the answers end well before."""
    measured = duration_s if duration_s is not None else spec.duration_s
    warm = 0.0 if spec.request_count else spec.warmup_s
    total_s = warm + measured
    if spec.request_count:  # run until that many answers (bounded by a generous duration); no warm-up
        total_s = max(measured, 3600.0 if spec.open_loop else 600.0)
    return warm, total_s


def summarize(result: LoadResult, extras: dict[int, list[tuple[Any, ...]]], level: float,
              spec: WorkloadSpec, warm: float) -> LevelStats:
    """Drop the warm-up windows, merge the rest (histograms exactly) and batch them for intervals."""
    keys = sorted(extras)
    # The engine merges a final sliver window into the one before it: do the same with the extras.
    if len(keys) > len(result.windows) and len(keys) >= 2:
        extras[keys[-2]] = extras[keys[-2]] + extras.pop(keys[-1])
        keys = keys[:-1]
    by_k = {int(w.start_s): w for w in result.windows}
    kept = [k for k in keys if k >= warm - 1e-9 and k in by_k]
    if not kept and keys:  # a run shorter than its warm-up: keep what there is, and say so
        kept = [k for k in keys if k in by_k]
    windows = [by_k[k] for k in kept]
    ttft, itl = histogram.new_histogram(), histogram.new_histogram()
    out_tokens = in_tokens = good = 0
    per_window: list[tuple[Any, Any, Any, int, int, int]] = []
    for k in kept:
        wt, wi = histogram.new_histogram(), histogram.new_histogram()
        w_out = w_good = w_ans = 0
        for e in extras[k]:
            if e[0]:
                wt.decode_and_add(e[0])
            if e[1]:
                wi.decode_and_add(e[1])
            in_tokens += e[2]
            w_out += e[3]
            w_good += e[4]
            w_ans += e[5]
        ttft.add(wt)
        itl.add(wi)
        out_tokens += w_out
        good += w_good
        per_window.append((wt, wi, by_k[k], w_out, w_good, w_ans))
    total = histogram.merge_windows(windows) if windows else WindowStats(duration_s=0.0)
    duration = sum(w.duration_s for w in windows)
    notes = list(result.notes)
    if warm and kept and kept[0] < warm - 1e-9:
        notes.append("the run was shorter than its warm-up; warm-up windows are included")
    stats = LevelStats(level=level, open_loop=spec.open_loop, duration_s=duration, requests=total.requests,
                       successes=total.successes, errors=total.errors, output_tokens=out_tokens,
                       input_tokens=in_tokens, good=good, ttft_ms=_pcts(ttft), itl_ms=_pcts(itl),
                       e2e_ms={"p50": total.p50_ms, "p90": total.p90_ms, "p99": total.p99_ms, "mean": total.mean_ms}
                       if total.successes else {}, generator_bound=result.generator_bound, notes=notes)
    answers = sum(p[5] for p in per_window) / max(len(per_window), 1)
    size = batch_size(answers)
    for i in range(0, len(per_window) - size + 1, size):
        chunk = per_window[i:i + size]
        bt, bi = histogram.new_histogram(), histogram.new_histogram()
        for wt, wi, *_ in chunk:
            bt.add(wt)
            bi.add(wi)
        be = histogram.merge_windows([c[2] for c in chunk])
        secs = sum(c[2].duration_s for c in chunk)
        for p in PERCENTILES:
            if bt.get_total_count():
                stats.ttft_batches.setdefault(p, []).append(bt.get_value_at_percentile(p) / 1000.0)
            if bi.get_total_count():
                stats.itl_batches.setdefault(p, []).append(bi.get_value_at_percentile(p) / 1000.0)
            if be.successes:
                stats.e2e_batches.setdefault(p, []).append(be.percentile_ms(f"P{p}"))
        stats.tokens_per_s_batches.append(sum(c[3] for c in chunk) / secs if secs > 0 else 0.0)
        stats.error_rate_batches.append(be.error_rate)
    return stats


def _pcts(h: Any) -> dict[str, float]:
    if not h.get_total_count():
        return {}
    pct = h.get_percentile_to_value_dict(list(PERCENTILES))
    out = {f"p{p}": pct[p] / 1000.0 for p in PERCENTILES}
    out["mean"] = histogram.mean_us(h) / 1000.0
    return out
