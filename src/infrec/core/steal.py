"""CPU steal: the share of time the hypervisor ran something else on this VM's CPUs.

An instance type is emulated on this host's CPUs; a real instance of a non-burstable type has its
vCPUs to itself. While a step measures, a hypervisor that takes the CPU away (steal) lowers the
measured capacity by about the same share — a model that spends a fixed CPU time per request
loses exactly that much — and no quota or pinning on the guest can prevent it. So a step reports
the steal it was measured under, from two readings of the kernel's ``/proc/stat`` (read by the
caller; this module only parses), and the figure can be judged against it.
"""

from __future__ import annotations

STEAL_FIELD = 7   # user nice system idle iowait irq softirq steal guest guest_nice


def cpu_times(proc_stat: str) -> tuple[int, ...] | None:
    """The aggregate ``cpu`` line's counters (clock ticks), or None when the text has none."""
    for line in proc_stat.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            try:
                return tuple(int(x) for x in parts[1:])
            except ValueError:
                return None
    return None


def steal_percent(before: tuple[int, ...] | None, after: tuple[int, ...] | None) -> float | None:
    """Steal between two readings, in percent of all CPU time that passed (None when unknown)."""
    if before is None or after is None or len(before) <= STEAL_FIELD or len(after) <= STEAL_FIELD:
        return None
    # guest and guest_nice are already counted in user and nice: leave them out of the total.
    total = sum(after[:8]) - sum(before[:8])
    if total <= 0:
        return None
    return 100.0 * max(0, after[STEAL_FIELD] - before[STEAL_FIELD]) / total
