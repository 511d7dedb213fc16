"""A small closed-loop HTTP client: `concurrency` connections, each sending its next request as soon
as the previous answer arrives. Enough to saturate an endpoint and count what it can do."""

from __future__ import annotations

import http.client
import threading
import time


def closed_loop(url: str, body: bytes, content_type: str, concurrency: int, duration_s: float,
                warmup_s: float = 0.5) -> tuple[float, int]:
    """(successful requests per second after warm-up, errors)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    start = time.monotonic()
    measure_from = start + warmup_s
    end = measure_from + duration_s
    counts = [0] * concurrency
    errors = [0] * concurrency

    def run(i: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    return
                try:
                    conn.request("POST", "/invocations", body=body, headers={"Content-Type": content_type})
                    r = conn.getresponse()
                    r.read()
                    ok = r.status == 200
                except (OSError, http.client.HTTPException):
                    ok = False
                    conn.close()
                    conn = http.client.HTTPConnection(host, int(port), timeout=10)
                done = time.monotonic()
                if measure_from <= done < end:
                    if ok:
                        counts[i] += 1
                    else:
                        errors[i] += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration_s + warmup_s + 15)
    return sum(counts) / duration_s, sum(errors)
