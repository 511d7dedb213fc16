"""infrec.loadgen: the load generator — traffic shapes in, per-second latency windows out.

Call `run_load(targets, payloads, shape, stopping, deadline_s=..., content_type=...)`; shapes
and stopping conditions are in `infrec.core.traffic`, results in `infrec.core.stats`.
"""

from infrec.loadgen.payloads import Payload, load_payloads
from infrec.loadgen.runner import run_load

__all__ = ["Payload", "load_payloads", "run_load"]
