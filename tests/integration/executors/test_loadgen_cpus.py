"""LocalExecutor.loadgen_cpus: the load generator's CPUs are those no endpoint gets."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from infrec.config import Settings
from infrec.executors.local import LocalExecutor

OWN = sorted(os.sched_getaffinity(0))


def test_reserved_cpus_are_the_generators_and_no_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFREC_LOADGEN_CPUS", raising=False)
    ex = LocalExecutor(tmp_path / "state", enforcement="affinity")
    cpus = ex.loadgen_cpus()
    if len(OWN) > 1:
        assert cpus == OWN[:1]
        assert not set(cpus) & set(ex.budget.cpu_ids)
        assert sorted(set(cpus) | set(ex.budget.cpu_ids)) == OWN
    else:
        assert cpus == OWN
    # cpus=1: endpoints get the last CPU, the generator all the others.
    one = LocalExecutor(tmp_path / "one", cpus=1, enforcement="affinity")
    assert one.loadgen_cpus() == (OWN[:-1] or OWN)


def test_one_cpu_host_shares_the_whole_affinity_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """sched_setaffinity(0) pins only the calling thread: a thread on one CPU is a 1-CPU host."""
    monkeypatch.delenv("INFREC_LOADGEN_CPUS", raising=False)
    got: dict[str, object] = {}

    def on_one_cpu() -> None:
        try:
            os.sched_setaffinity(0, [OWN[-1]])
            ex = LocalExecutor(tmp_path / "state", enforcement="affinity")
            got["budget"] = ex.budget.cpu_ids
            got["cpus"] = ex.loadgen_cpus()
            ex.loadgen_cpus()
        except Exception as exc:  # reported below, in the test's thread
            got["error"] = exc

    with caplog.at_level(logging.WARNING, logger="infrec.executors.local"):
        t = threading.Thread(target=on_one_cpu)
        t.start()
        t.join(30)
    assert "error" not in got, got
    assert got["cpus"] == [OWN[-1]] == got["budget"]
    warnings = [r for r in caplog.records if "shares CPUs" in r.getMessage()]
    assert len(warnings) == 1  # once per executor


def test_cpu_list_from_the_settings(tmp_path: Path) -> None:
    def chosen(raw: str) -> list[int]:
        cpus = Settings.from_env({"INFREC_LOADGEN_CPUS": raw}).loadgen_cpus
        return LocalExecutor(tmp_path / "state", enforcement="affinity", loadgen_cpus=cpus).loadgen_cpus()

    assert chosen(str(OWN[0])) == [OWN[0]]
    if len(OWN) > 1 and OWN[1] == OWN[0] + 1:
        assert chosen(f" {OWN[0]}-{OWN[1]} ") == OWN[:2]
        assert chosen(f"{OWN[1]},{OWN[0]}") == OWN[:2]
    for bad in ("x", "1-0", "-1", "0-", "0,,1"):
        with pytest.raises(ValueError, match="INFREC_LOADGEN_CPUS"):
            Settings.from_env({"INFREC_LOADGEN_CPUS": bad})
    with pytest.raises(ValueError, match="may not use"):
        chosen(str(max(OWN) + 1))
