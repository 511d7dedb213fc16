"""infrec.loadgen: the load generator — traffic shapes in, per-second latency windows out.

Call `run_load(LoadPlan(targets, payloads, shape, stopping, deadline_s=..., content_type=...,
workers=..., cpu_ids=...), cancel=..., on_window=...)`; shapes and stopping conditions are in
`infrec.core.traffic`, results in `infrec.core.stats`. The generator runs in its own processes
pinned to `cpu_ids` and reports how busy it was; a `generator_bound` result is no evidence of
capacity: rerun it with `more_workers(result, cpu_ids)` processes, or fail with
`generator_bound_reason(result)`.
"""

from infrec.loadgen.generator import (
    GENERATOR_BOUND,
    LoadgenOptions,
    LoadPlan,
    generator_bound_reason,
    more_workers,
    run_load,
)
from infrec.loadgen.payloads import Payload, load_payloads

__all__ = ["GENERATOR_BOUND", "LoadPlan", "LoadgenOptions", "Payload", "generator_bound_reason", "load_payloads",
           "more_workers", "run_load"]
