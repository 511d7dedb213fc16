"""infrec.measure: measuring one endpoint configuration — start it, drive traffic, sample its
utilisation, stop it — for the jobs layer.

Default jobs search for the highest load the endpoint sustains and confirm it in a hold
(`search`); Advanced jobs replay the job's own TrafficPattern with its StoppingConditions
(`replay`); a serverless configuration runs at most MaxConcurrency requests at once and is priced
per GB-second (`serverless`). `step` owns a step's lifecycle and dispatch, `probes` the single
requests outside the load generator, `sampling` the utilisation and steal, `trials` the records a
search keeps, and `context` what all of them share. The rules a trial is judged by are pure and
live in ``infrec.core.trial``; how emulated sizes are run and read back is ``infrec.core.emulation``.

Call `measure_step(StepContext(...), StepConfig(...), job_name, index, model_dir)`, or
`measure_on(...)` for an endpoint that runs already.
"""

from infrec.measure.context import MeasureOptions, StepConfig, StepContext, StepLimits
from infrec.measure.outcome import StepMeasurement
from infrec.measure.step import measure_on, measure_step

__all__ = ["MeasureOptions", "StepConfig", "StepContext", "StepLimits", "StepMeasurement", "measure_on",
           "measure_step"]
