"""The control process keeps off the endpoints' CPUs while it measures, and gets them back after."""

from __future__ import annotations

import os
import threading

import pytest

from infrec.executors.pinning import control_plane_on


def test_every_thread_is_pinned_and_restored() -> None:
    original = set(os.sched_getaffinity(0))
    if len(original) < 2:
        pytest.skip("needs two CPUs to pin to a subset")
    target = [min(original)]
    seen: dict[str, set[int]] = {}
    release = threading.Event()

    def before_thread() -> None:
        release.wait(10)
        seen["old thread"] = set(os.sched_getaffinity(0))

    old = threading.Thread(target=before_thread)
    old.start()
    with control_plane_on(target):
        with control_plane_on(target):      # a parallel step nests
            seen["main"] = set(os.sched_getaffinity(0))
            release.set()
            old.join(10)
            new = threading.Thread(target=lambda: seen.__setitem__("new thread", set(os.sched_getaffinity(0))))
            new.start()
            new.join(10)
        seen["inner left"] = set(os.sched_getaffinity(0))
    assert seen["main"] == seen["old thread"] == seen["new thread"] == set(target)
    assert seen["inner left"] == set(target)          # still pinned until the outer one leaves
    assert set(os.sched_getaffinity(0)) == original


def test_no_cpus_means_no_change() -> None:
    original = set(os.sched_getaffinity(0))
    with control_plane_on(None):
        assert set(os.sched_getaffinity(0)) == original
