"""Small process and socket helpers for tests: ports, readiness waits, reaping."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, deadline_s: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {deadline_s}s")


def stop_process(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=grace_s)


REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


class InfrecServer:
    """A real `infrec serve` process on a free loopback port, for tests that drive the API."""

    def __init__(self, env: dict[str, str], extra_args: list[str] | None = None, port: int | None = None) -> None:
        import os
        import sys

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        exe = __import__("pathlib").Path(sys.executable).parent / "infrec"
        import tempfile

        self.log = tempfile.NamedTemporaryFile(prefix="infrec-serve-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port), *(extra_args or [])],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            wait_for_port(self.port, 30.0, self.proc)
        except Exception:
            stop_process(self.proc, grace_s=10)
            out = self.output()
            self._drop_log()
            raise RuntimeError(f"infrec serve did not start: {out[-2000:]}") from None

    def output(self) -> str:
        return open(self.log.name, errors="replace").read()

    def client(self, **kw):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client(
            "sagemaker", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=kw.pop("key", "testing"), aws_secret_access_key=kw.pop("secret", "testing"),
            config=Config(retries={"max_attempts": 1}, **kw),
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: what a crash looks like."""
        import os
        import signal

        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._drop_log()

    def stop(self) -> None:
        stop_process(self.proc, grace_s=10)
        self._drop_log()

    def _drop_log(self) -> None:
        import os

        try:
            os.unlink(self.log.name)
        except OSError:
            pass


# A process that takes the host lock (path, owner), says "held", releases it on its next input
# line, says "released", and exits at its next line or when its input closes.
LOCK_HOLDER = """
import sys
from infrec.executors.hostlock import HostLock
lock = HostLock(sys.argv[1])
lock.acquire(sys.argv[2])
print("held", flush=True)
sys.stdin.readline()
lock.release(sys.argv[2])
print("released", flush=True)
sys.stdin.readline()
"""


class LockHolder:
    """Another infrec-like process holding the host lock until `release()`."""

    def __init__(self, path: Path, owner: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), owner],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "held"
        self.pid = self.proc.pid

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("go\n")
            self.proc.stdin.close()
        self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


def wait_status(fn, key: str, timeout: float = 60.0, **kw: str):  # type: ignore[no-untyped-def]
    """Call a boto3 Describe (`fn(**kw)`) until `key` is terminal (or InService); the last answer."""
    end = time.monotonic() + timeout
    d: dict = {}  # type: ignore[type-arg]
    while time.monotonic() < end:
        d = fn(**kw)
        if d[key] in ("Completed", "Failed", "Stopped", "InService"):
            return d
        time.sleep(0.3)
    raise AssertionError(f"{kw} still {d.get(key)} after {timeout}s")


def _proc_stat_times() -> tuple[int, ...] | None:
    from infrec.core.steal import cpu_times

    try:
        return cpu_times(Path("/proc/stat").read_text())
    except OSError:
        return None


def _speed_probe(seconds: float = 0.05) -> float:
    """Loop iterations per millisecond of wall clock over a short busy loop: the host's speed now."""
    n, start = 0, time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        n += 1
    return n / ((time.perf_counter() - start) * 1000.0)


class HostNoise:
    """What the host was doing while a timed test ran, for the failure message of a measured bound.

    A shared host steals CPU and its speed drifts from second to second; a bound that fails
    under that says so in its message (steal over the block and a quick speed probe), so a red run
    explains itself instead of looking like a product fault.
    """

    def __init__(self) -> None:
        self.before = _proc_stat_times()
        self.t0 = time.monotonic()

    def __str__(self) -> str:
        from infrec.core.steal import steal_percent

        steal = steal_percent(self.before, _proc_stat_times())
        steal_s = "unknown" if steal is None else f"{steal:.1f}%"
        return (f"host during the block: steal {steal_s} over {time.monotonic() - self.t0:.1f}s, "
                f"speed probe {_speed_probe():.0f} loops/ms, load average {_loadavg()}")


def _loadavg() -> str:
    import os

    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def poll_until(check, deadline_s: float, what: str, every_s: float = 0.05):  # type: ignore[no-untyped-def]
    """Call `check()` until it returns something truthy (returned) or `deadline_s` passes (fails
    with `what`): waiting for the state that marks a moment, instead of sleeping and hoping."""
    end = time.monotonic() + deadline_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"not {what} within {deadline_s}s")
        time.sleep(every_s)
