"""The sentinel of a Ray endpoint host: ends what an actor started once the actor is gone.

A Ray actor that starts a model server (executors.raynode) can die without running any code of
ours: `ray.kill`, its driver exiting (actors share their owner's fate), its node's raylet dying.
The model server runs in a session of its own (the local executor's process groups), so it would
outlive the actor. Each actor therefore starts one sentinel, in a session of its own too, that
polls the actor's process (pid and start time, so a reused pid is not mistaken for it) and, once
it is gone, reaps every ledger entry on this host whose owner is dead — the actor's endpoints,
their cgroups and logs — and exits. Started as `python -m infrec.executors.sentinel STATE OWNER_PID
OWNER_START`; it never outlives its actor by more than a second plus the reaping.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from infrec.executors.ledger import process_start

POLL_S = 0.5


def watch(state_dir: Path, owner_pid: int, owner_start: float) -> int:
    """Wait until the owner is gone, then reap its leftovers; the number of instances reaped."""
    while True:
        start = process_start(owner_pid)
        if start is None or abs(start - owner_start) >= 1.0:
            break
        time.sleep(POLL_S)
    from infrec.executors.local import LocalExecutor
    from infrec.executors.raynode import release_cpus

    release_cpus(state_dir, owner_pid)
    return LocalExecutor(state_dir, cpus=1, reserve_cpus=0).reap_orphans()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    state, pid, start = Path(argv[0]), int(argv[1]), float(argv[2])
    watch(state, pid, start)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
