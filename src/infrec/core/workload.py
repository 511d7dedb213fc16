"""The generative-AI workload spec as data: what a benchmark or recommendation job sends, in
AIPerf's terms, its SLAs and its dataset's prompts. Pure (no I/O): the services parse YAML/JSON into
a dict and hand it here; a SpecError names the field that cannot run.

The workload spec speaks AIPerf's terms (its command-line options with underscores), so a spec
written for AIPerf means the same here::

    endpoint_type: chat            # chat | completions
    streaming: true
    model: my-model
    synthetic_input_tokens_mean: 128
    synthetic_input_tokens_stddev: 0
    output_tokens_mean: 64
    output_tokens_stddev: 0
    concurrency: 4                 # or a list: one level each (infrec extension)
    request_rate: 10               # open loop instead of concurrency (req/s, Poisson arrivals)
    request_count: 200             # per level, or
    benchmark_duration: 10         # seconds per level
    warmup_duration: 1             # seconds discarded before each level (infrec)
    random_seed: 0
    goodput: "time_to_first_token:200 inter_token_latency:20"   # SLAs in ms (AIPerf syntax)
    extra_inputs: {ignore_eos: true}
    request_timeout_seconds: 120

Prompts from a dataset instead of synthetic ones: the AIWorkloadConfig's ``DatasetConfig`` channel
holds AIPerf's ``single_turn`` JSONL (one request per line: ``{"text": "..."}`` or ``{"texts": [...]}``,
optionally ``"output_length": <max_tokens>``), parsed by ``parse_dataset``; the spec says how they
are drawn, as AIPerf does::

    custom_dataset_type: single_turn     # or random_pool (drawn at random)
    dataset_sampling_strategy: sequential   # sequential | random | shuffle

infrec extensions: ``sla_percentile`` (50/90/99; default 90: an SLA holds when that percentile
meets it), ``max_error_rate`` (default 0.01), ``max_concurrency`` (the search's ceiling, default
64), ``confirmation_duration`` (seconds a recommendation job holds the concurrency it found before
reporting it; default twice ``benchmark_duration``, 0 skips it), ``engine_settings`` (environment variable → list of values, the settings of the image's inference
engine (llama.cpp's, vLLM's) a recommendation job searches, such as ``LLAMA_N_THREADS: [1, 2]``), ``copies_per_instance`` (a list of
copy counts a recommendation job searches, default ``[1]``: n copies of the model on one instance,
each inside 1/n of its vCPUs and memory, requests routed to the copy with the fewest outstanding, as
SageMaker's inference components share an instance; CopyCountPerInstance in the recommendation).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

SLA_METRICS = {  # AIPerf goodput names -> our SLA fields
    "time_to_first_token": "ttft_ms",
    "ttft": "ttft_ms",
    "inter_token_latency": "itl_ms",
    "itl": "itl_ms",
    "time_per_output_token": "itl_ms",
    "tpot": "itl_ms",
    "request_latency": "e2e_ms",
    "e2e": "e2e_ms",
}
MAX_LEVELS = 32
MAX_COPIES = 16          # copies of a model on one instance (each gets 1/n of its vCPUs)
MAX_PROMPTS = 512
MAX_DATASET_PROMPTS = 10_000
MAX_DATASET_BYTES = 32 * 1024 * 1024
DATASET_TYPES = {"single_turn": "sequential", "random_pool": "random"}   # type -> its default sampling
SAMPLING = ("sequential", "random", "shuffle")


class SpecError(ValueError):
    """A workload spec that cannot run; the message names the field."""


@dataclass(frozen=True)
class Slas:
    """Service-level objectives in ms (None: not set) and the error rate allowed."""

    ttft_ms: float | None = None
    itl_ms: float | None = None
    e2e_ms: float | None = None
    max_error_rate: float = 0.01
    percentile: int = 90

    def any(self) -> bool:
        return any(v is not None for v in (self.ttft_ms, self.itl_ms, self.e2e_ms))


@dataclass(frozen=True)
class Prompt:
    """One request of a dataset: its text and, when the dataset says, its max_tokens."""

    text: str
    output_tokens: int | None = None


def parse_dataset(data: bytes, where: str = "dataset") -> tuple[Prompt, ...]:
    """Prompts from AIPerf's single_turn JSONL (module doc); SpecError naming the line otherwise.

    ``texts`` (several text parts of one turn) are joined with a blank line; blank lines of the file
    are skipped; images, audio and timestamps (multimodal or trace replay) are refused by name
    rather than silently dropped, since the workload they describe is not the one that would run."""
    if len(data) > MAX_DATASET_BYTES:
        raise SpecError(f"{where}: {len(data)} bytes; the limit is {MAX_DATASET_BYTES}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    prompts: list[Prompt] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        at = f"{where}: line {number}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SpecError(f"{at}: not JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise SpecError(f"{at}: must be a JSON object such as {{\"text\": \"...\"}}")
        for unsupported in ("image", "images", "audio", "audios", "timestamp", "delay", "session_id", "turns"):
            if unsupported in rec:
                raise SpecError(f"{at}: {unsupported!r} is not supported (text prompts only, one turn each)")
        if "text" in rec and isinstance(rec["text"], str):
            body = rec["text"]
        elif "texts" in rec and isinstance(rec["texts"], list) and rec["texts"] \
                and all(isinstance(t, str) for t in rec["texts"]):
            body = "\n\n".join(rec["texts"])
        else:
            raise SpecError(f"{at}: give \"text\" (a string) or \"texts\" (a list of strings)")
        if not body.strip():
            raise SpecError(f"{at}: the prompt is empty")
        out = rec.get("output_length")
        if out is not None and (isinstance(out, bool) or not isinstance(out, int) or not 1 <= out <= 65_536):
            raise SpecError(f"{at}: output_length {out!r} must be a whole number from 1 to 65536")
        prompts.append(Prompt(body, out))
        if len(prompts) > MAX_DATASET_PROMPTS:
            raise SpecError(f"{where}: more than {MAX_DATASET_PROMPTS} prompts")
    if not prompts:
        raise SpecError(f"{where}: no prompts (one JSON object per line, e.g. {{\"text\": \"Hello\"}})")
    return tuple(prompts)


@dataclass(frozen=True)
class WorkloadSpec:
    endpoint_type: str = "chat"
    streaming: bool = True
    model: str = "model"
    input_tokens_mean: int = 128
    input_tokens_stddev: float = 0.0
    output_tokens_mean: int = 64
    output_tokens_stddev: float = 0.0
    concurrency: tuple[int, ...] = (1,)
    request_rate: tuple[float, ...] = ()
    request_count: int | None = None
    duration_s: float = 10.0
    warmup_s: float = 1.0
    seed: int = 0
    slas: Slas = field(default_factory=Slas)
    extra_inputs: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = 120.0
    max_concurrency: int = 64
    engine_settings: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    copies_per_instance: tuple[int, ...] = (1,)
    tokenizer: str | None = None
    confirm_s: float | None = None            # confirmation_duration; None: twice benchmark_duration
    dataset_type: str | None = None           # custom_dataset_type; None: synthetic prompts
    dataset_sampling: str = "sequential"
    dataset: tuple[Prompt, ...] = ()          # the prompts, once the job has read its DatasetConfig

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.endpoint_type == "chat" else "/v1/completions"

    @property
    def confirmation_s(self) -> float:
        return 2.0 * self.duration_s if self.confirm_s is None else self.confirm_s

    @property
    def open_loop(self) -> bool:
        return bool(self.request_rate)

    def variants(self) -> list[tuple[dict[str, str], int]]:
        """What a recommendation job tries on each instance type: every combination of the engine
        settings × every copy count, in the spec's order (the first setting varies slowest)."""
        names = list(self.engine_settings)
        combos = itertools.product(*(self.engine_settings[n] for n in names))
        return [(dict(zip(names, combo, strict=True)), copies) for combo in combos
                for copies in self.copies_per_instance]

    def levels(self) -> tuple[float, ...]:
        return self.request_rate if self.open_loop else tuple(float(c) for c in self.concurrency)

    def to_doc(self) -> dict[str, Any]:
        return {"endpoint_type": self.endpoint_type, "streaming": self.streaming, "model": self.model,
                "synthetic_input_tokens_mean": self.input_tokens_mean,
                "synthetic_input_tokens_stddev": self.input_tokens_stddev,
                "output_tokens_mean": self.output_tokens_mean, "output_tokens_stddev": self.output_tokens_stddev,
                "concurrency": list(self.concurrency), "request_rate": list(self.request_rate),
                "request_count": self.request_count, "benchmark_duration": self.duration_s,
                "warmup_duration": self.warmup_s, "random_seed": self.seed,
                "slas": {"ttft_ms": self.slas.ttft_ms, "itl_ms": self.slas.itl_ms, "e2e_ms": self.slas.e2e_ms,
                         "max_error_rate": self.slas.max_error_rate, "percentile": self.slas.percentile},
                **({"copies_per_instance": list(self.copies_per_instance)} if self.copies_per_instance != (1,) else {}),
                **({"custom_dataset_type": self.dataset_type, "dataset_sampling_strategy": self.dataset_sampling,
                    "dataset_prompts": len(self.dataset)} if self.dataset_type else {})}


def _num(doc: Mapping[str, Any], key: str, default: float | None, *, minimum: float = 0.0, integer: bool = False,
         maximum: float | None = None) -> float | None:
    raw = doc.get(key)
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int | float) or (integer and not float(raw).is_integer()):
        raise SpecError(f"{key}: {raw!r} is not a {'whole ' if integer else ''}number")
    if not math.isfinite(float(raw)) or raw < minimum or (maximum is not None and raw > maximum):
        bound = f" and at most {maximum:g}" if maximum is not None else ""
        raise SpecError(f"{key}: {raw!r} must be at least {minimum:g}{bound}")
    return float(raw)


def _levels(doc: Mapping[str, Any], key: str, integer: bool) -> tuple[float, ...]:
    raw = doc.get(key)
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    if not items or len(items) > MAX_LEVELS:
        raise SpecError(f"{key}: give 1 to {MAX_LEVELS} values")
    out = []
    for i, v in enumerate(items):
        value = _num({f"{key}[{i}]": v}, f"{key}[{i}]", None, minimum=1 if integer else 1e-3, integer=integer,
                     maximum=4096 if integer else 100_000)
        assert value is not None
        out.append(value)
    return tuple(out)


def parse_goodput(raw: Any) -> dict[str, float]:
    """AIPerf's goodput ("time_to_first_token:200 inter_token_latency:20") or a mapping -> SLA fields."""
    pairs: list[tuple[str, Any]]
    if isinstance(raw, str):
        pairs = []
        for token in raw.replace(",", " ").split():
            name, sep, value = token.partition(":")
            if not sep:
                raise SpecError(f"goodput: {token!r} is not name:milliseconds")
            pairs.append((name, value))
    elif isinstance(raw, Mapping):
        pairs = list(raw.items())
    else:
        raise SpecError("goodput: give 'time_to_first_token:<ms> inter_token_latency:<ms> request_latency:<ms>'")
    out: dict[str, float] = {}
    for name, value in pairs:
        target = SLA_METRICS.get(str(name).strip().lower())
        if target is None:
            raise SpecError(f"goodput: unknown metric {name!r}; use one of {', '.join(sorted(SLA_METRICS))}")
        try:
            ms = float(value)
        except (TypeError, ValueError):
            raise SpecError(f"goodput: {name}: {value!r} is not a number of milliseconds") from None
        if not math.isfinite(ms) or ms <= 0:
            raise SpecError(f"goodput: {name}: {value!r} must be a positive number of milliseconds")
        out[target] = ms
    return out


KNOWN_KEYS = frozenset({
    "endpoint_type", "streaming", "model", "model_names", "synthetic_input_tokens_mean",
    "synthetic_input_tokens_stddev", "output_tokens_mean", "output_tokens_stddev", "concurrency", "request_rate",
    "request_count", "benchmark_duration", "warmup_duration", "random_seed", "goodput", "extra_inputs",
    "request_timeout_seconds", "sla_percentile", "max_error_rate", "max_concurrency", "engine_settings",
    "tokenizer", "slas", "confirmation_duration", "custom_dataset_type", "dataset_sampling_strategy", "input_file",
    "copies_per_instance",
})


def parse_workload(doc: Any) -> WorkloadSpec:
    """A WorkloadSpec from a parsed document (module doc); SpecError naming the field otherwise."""
    if not isinstance(doc, Mapping):
        raise SpecError("the spec must be a mapping of AIPerf options (endpoint_type, concurrency, ...)")
    doc = {str(k).replace("-", "_"): v for k, v in doc.items()}
    if unknown := sorted(set(doc) - KNOWN_KEYS):
        raise SpecError(f"{unknown[0]}: not an option infrec knows; known: {', '.join(sorted(KNOWN_KEYS))}")
    etype = doc.get("endpoint_type", "chat")
    if etype not in ("chat", "completions"):
        raise SpecError(f"endpoint_type: {etype!r} must be chat or completions")
    streaming = doc.get("streaming", True)
    if not isinstance(streaming, bool):
        raise SpecError(f"streaming: {streaming!r} must be true or false")
    model = doc.get("model", doc.get("model_names", "model"))
    if isinstance(model, list) and model:
        model = model[0]
    if not isinstance(model, str) or not model or len(model) > 256:
        raise SpecError("model: must be a name of 1 to 256 characters")
    concurrency = tuple(int(c) for c in _levels(doc, "concurrency", True))
    rates = _levels(doc, "request_rate", False)
    if concurrency and rates:
        raise SpecError("request_rate: give concurrency (closed loop) or request_rate (open loop), not both")
    slas_doc: dict[str, Any] = {}
    if "goodput" in doc:
        slas_doc.update(parse_goodput(doc["goodput"]))
    if "slas" in doc:
        slas_doc.update(parse_goodput(doc["slas"]) if not isinstance(doc["slas"], Mapping) else
                        {SLA_METRICS.get(str(k).removesuffix("_ms"), str(k)): v for k, v in doc["slas"].items()})
        for k, v in slas_doc.items():
            if k not in ("ttft_ms", "itl_ms", "e2e_ms"):
                raise SpecError(f"slas.{k}: unknown SLA; use ttft_ms, itl_ms or e2e_ms")
            _num({f"slas.{k}": v}, f"slas.{k}", None, minimum=1e-3)
    pct = doc.get("sla_percentile", 90)
    if pct not in (50, 90, 99):
        raise SpecError(f"sla_percentile: {pct!r} must be 50, 90 or 99")
    slas = Slas(ttft_ms=slas_doc.get("ttft_ms"), itl_ms=slas_doc.get("itl_ms"), e2e_ms=slas_doc.get("e2e_ms"),
                max_error_rate=_num(doc, "max_error_rate", 0.01, maximum=1.0) or 0.0, percentile=int(pct))
    extra = doc.get("extra_inputs", {})
    if not isinstance(extra, Mapping):
        raise SpecError("extra_inputs: must be a mapping of request body fields")
    engine: dict[str, tuple[str, ...]] = {}
    raw_engine = doc.get("engine_settings", {})
    if not isinstance(raw_engine, Mapping):
        raise SpecError("engine_settings: must map environment variable names to lists of values")
    for name, values in raw_engine.items():
        vals = values if isinstance(values, list) else [values]
        if not str(name).replace("_", "").isalnum() or not vals or len(vals) > 8:
            raise SpecError(f"engine_settings.{name}: give a variable name and 1 to 8 values")
        engine[str(name)] = tuple(str(v) for v in vals)
    copies = tuple(int(c) for c in _levels(doc, "copies_per_instance", True)) or (1,)
    if len(set(copies)) != len(copies) or max(copies) > MAX_COPIES or len(copies) > 8:
        raise SpecError(f"copies_per_instance: give 1 to 8 different whole numbers from 1 to {MAX_COPIES}")
    tokenizer = doc.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, str):
        raise SpecError("tokenizer: must be the path of a tokenizer.json")
    if "input_file" in doc:
        raise SpecError("input_file: infrec reads a dataset from the AIWorkloadConfig's DatasetConfig (an S3 "
                        "channel), never from a path on the server; put the JSONL there")
    dtype = doc.get("custom_dataset_type")
    if dtype is not None and dtype not in DATASET_TYPES:
        raise SpecError(f"custom_dataset_type: {dtype!r} must be one of {', '.join(DATASET_TYPES)}")
    sampling = doc.get("dataset_sampling_strategy", DATASET_TYPES.get(str(dtype), "sequential"))
    if sampling not in SAMPLING:
        raise SpecError(f"dataset_sampling_strategy: {sampling!r} must be one of {', '.join(SAMPLING)}")
    count = _num(doc, "request_count", None, minimum=1, integer=True, maximum=1_000_000)
    return WorkloadSpec(
        endpoint_type=etype, streaming=streaming, model=model,
        input_tokens_mean=int(_num(doc, "synthetic_input_tokens_mean", 128, minimum=1, integer=True,
                                   maximum=131_072) or 1),
        input_tokens_stddev=_num(doc, "synthetic_input_tokens_stddev", 0.0) or 0.0,
        output_tokens_mean=int(_num(doc, "output_tokens_mean", 64, minimum=1, integer=True, maximum=65_536) or 1),
        output_tokens_stddev=_num(doc, "output_tokens_stddev", 0.0) or 0.0,
        concurrency=concurrency or (() if rates else (1,)), request_rate=rates,
        request_count=int(count) if count is not None else None,
        duration_s=_num(doc, "benchmark_duration", 10.0, minimum=1, maximum=3600) or 10.0,
        warmup_s=_num(doc, "warmup_duration", 1.0, maximum=600) or 0.0,
        seed=int(_num(doc, "random_seed", 0, integer=True) or 0), slas=slas, extra_inputs=dict(extra),
        timeout_s=_num(doc, "request_timeout_seconds", 120.0, minimum=1, maximum=3600) or 120.0,
        max_concurrency=int(_num(doc, "max_concurrency", 64, minimum=1, integer=True, maximum=4096) or 64),
        engine_settings=engine, copies_per_instance=copies, tokenizer=tokenizer, confirm_s=_num(doc, "confirmation_duration", None, maximum=3600),
        dataset_type=dtype, dataset_sampling=str(sampling))


def with_dataset(spec: WorkloadSpec, prompts: Sequence[Prompt]) -> WorkloadSpec:
    """The spec with its dataset's prompts (single_turn unless the spec named a type)."""
    if not prompts:
        raise SpecError("dataset: no prompts")
    return replace(spec, dataset=tuple(prompts), dataset_type=spec.dataset_type or "single_turn")


def token_counts(mean: int, stddev: float, n: int, rng: Any) -> list[int]:
    """`n` token counts ~ Normal(mean, stddev), at least 1 (AIPerf's synthetic lengths)."""
    if stddev <= 0:
        return [mean] * n
    return [max(1, round(rng.gauss(mean, stddev))) for _ in range(n)]
