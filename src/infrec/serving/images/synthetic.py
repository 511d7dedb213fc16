"""`infrec/synthetic`: a model whose cost is known exactly, to prove the resource limits are real.

Each request spends INFREC_SYNTHETIC_SERVICE_MS of this thread's CPU time (time.thread_time, not
the wall clock: a CPU quota stretches it just as it stretches a real model), then echoes the body.
INFREC_SYNTHETIC_MEMORY_MB is allocated and touched at load, to test memory limits.
"""

from __future__ import annotations

import os
import time

from infrec.serving.images.base import Image


class SyntheticImage(Image):
    ballast: bytes = b""

    def load(self) -> None:
        from infrec.serving.settings import _float

        self.service_s = _float(os.environ, "INFREC_SYNTHETIC_SERVICE_MS", 0.0) / 1000.0
        mb = _float(os.environ, "INFREC_SYNTHETIC_MEMORY_MB", 0.0)
        load_s = _float(os.environ, "INFREC_SYNTHETIC_LOAD_S", 0.0)
        if mb:
            # Multiplying writes every page, so the memory is really resident (calloc'd zeros are not).
            self.ballast = b"\x01" * int(mb * 1024 * 1024)
        if load_s:
            time.sleep(load_s)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        if self.service_s:
            end = time.thread_time() + self.service_s
            while time.thread_time() < end:
                pass
        return body or b"{}", content_type or "application/json"
