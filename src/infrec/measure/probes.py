"""Single requests over plain HTTP, outside the load generator: whether the endpoint takes its own
sample payloads, how long a fresh endpoint took to answer its first request (a serverless cold
start), and draining what an earlier trial left queued before the next one starts.

These go one at a time on purpose: each asks a yes-or-no question of an otherwise idle endpoint,
and the generator's processes and pinning would only add their start-up to the answer."""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

from infrec.core import trial as tr
from infrec.loadgen.payloads import Payload

DRAIN_MAX_S = 30.0
PAYLOAD_CHECK_S = 30.0
PAYLOAD_CHECK_MAX = 50


def check_payloads(url: str, payloads: list[Payload], limit_s: float, cancel: threading.Event) -> str | None:
    """Send each payload once (the first PAYLOAD_CHECK_MAX), one at a time, before any load: a
    model that refuses its own sample payloads (a content type it does not read, a malformed body)
    fails the step in seconds, naming the file, its content type and the endpoint's answer —
    instead of a search where every rate "fails" and nothing says why. A failed payload is tried
    once more, so one transient error does not end the step. Returns the reason, or None."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/invocations"
    end = time.monotonic() + limit_s
    failed: list[str] = []
    checked = 0
    for p in payloads[:PAYLOAD_CHECK_MAX]:
        why: str | None = None
        for _attempt in range(2):
            if cancel.is_set() or time.monotonic() >= end:
                return None
            why = send_once(parts.hostname or "127.0.0.1", parts.port or 80, path, p, end - time.monotonic())
            if why is None:
                break
        checked += 1
        if why is not None:
            failed.append(f"{p.name or '(unnamed)'} ({p.content_type}): {why}")
    if not failed:
        return None
    shown = "; ".join(failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
    return (f"{len(failed)} of {checked} sample payloads were refused by the endpoint before any load was "
            f"offered: {shown}. Check SupportedContentTypes and the payload files against what the model "
            "server accepts")


def send_once(host: str, port: int, path: str, payload: Payload, timeout_s: float) -> str | None:
    """One POST; None when it succeeded (2xx), else what the endpoint answered (status and the
    start of its body) or why the request failed."""
    conn = http.client.HTTPConnection(host, port, timeout=max(0.5, min(timeout_s, 15.0)))
    try:
        conn.request("POST", path, body=payload.body, headers={"Content-Type": payload.content_type,
                                                                  "Accept": "*/*"})
        resp = conn.getresponse()
        body = resp.read(2048)
        if 200 <= resp.status < 300:
            return None
        text = body.decode("utf-8", "replace").strip().replace("\n", " ")
        return f"HTTP {resp.status} {text[:200]!r}"
    except (OSError, http.client.HTTPException) as exc:
        return f"no answer ({type(exc).__name__}: {exc})"
    finally:
        conn.close()


def drain(urls: list[str], payload: Payload, content_type: str, unloaded_ms: float, limit_s: float,
           cancel: threading.Event) -> float:
    """Send single requests to every instance until each answers within 3× its unloaded latency
    (+5 ms): whatever an earlier trial queued has been served. Returns the seconds it took."""
    start = time.monotonic()
    end = start + limit_s
    ok_ms = max(3.0 * unloaded_ms, unloaded_ms + 5.0)
    body = payload.body
    ctype = payload.content_type or content_type
    for url in urls:
        parts = urlsplit(url)
        path = parts.path.rstrip("/") + "/invocations"
        while time.monotonic() < end and not cancel.is_set():
            t0 = time.monotonic()
            try:
                conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80,
                                                  timeout=max(0.5, end - t0))
                try:
                    conn.request("POST", path, body=body, headers={"Content-Type": ctype})
                    conn.getresponse().read()
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException):
                time.sleep(0.05)
                continue
            if (time.monotonic() - t0) * 1000.0 <= ok_ms:
                break
    if not cancel.is_set():
        time.sleep(tr.SETTLE_S)
    return time.monotonic() - start


def cold_start(url: str, payload: Payload, started: float, limit_s: float, cancel: threading.Event) -> float | None:
    """Seconds from the start of a fresh endpoint to its first successful answer to a request
    (SageMaker's serverless ModelSetupTime: launching compute, loading the model, answering);
    None when no request succeeded within `limit_s` (the payload check then says why)."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/") + "/invocations"
    end = time.monotonic() + limit_s
    while time.monotonic() < end and not cancel.is_set():
        if send_once(parts.hostname or "127.0.0.1", parts.port or 80, path, payload, end - time.monotonic()) is None:
            return time.monotonic() - started
        time.sleep(0.05)
    return None

