"""infrec/llmsim as a real process with known timing: the metric truth of the genai tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from tests.helpers import free_port, stop_process, wait_for_port


class Sim:
    """One llmsim process; `url` is its base URL."""

    def __init__(self, ttft_ms: float, itl_ms: float, output_tokens: int = 16, max_concurrency: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ttft_ms, self.itl_ms = ttft_ms, itl_ms
        env = dict(os.environ, INFREC_LLMSIM_TTFT_MS=str(ttft_ms), INFREC_LLMSIM_ITL_MS=str(itl_ms),
                   INFREC_LLMSIM_OUTPUT_TOKENS=str(output_tokens), INFREC_LLMSIM_MAX_CONCURRENCY=str(max_concurrency))
        self.proc = subprocess.Popen([sys.executable, "-m", "infrec.serving.llmsim", "--port", str(self.port)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 20.0, self.proc)
        except BaseException:
            stop_process(self.proc)
            raise


@pytest.fixture
def llmsim() -> Iterator[Callable[..., Sim]]:
    started: list[Sim] = []

    def start(ttft_ms: float = 60.0, itl_ms: float = 10.0, **kw: int) -> Sim:
        sim = Sim(ttft_ms, itl_ms, **kw)
        started.append(sim)
        return sim

    try:
        yield start
    finally:
        for sim in started:
            stop_process(sim.proc)
