"""The master process: binds the port once, forks SAGEMAKER_MODEL_SERVER_WORKERS workers that share
it, and supervises them.

A worker that fails to load the model ends the server (exit code 3, the reason on stderr): an
endpoint that cannot load will never become healthy, and saying so at once beats a restart loop.
A worker that dies after loading (a crash, the kernel's OOM killer) is replaced, a few times.
SIGTERM stops the workers and then the master; workers also die with the master (PDEATHSIG).
"""

from __future__ import annotations

import mmap
import os
import signal
import socket
import sys
import time
from typing import Any

from infrec.core.images import BUILTIN_PREFIX
from infrec.serving.settings import ServerSettings, SettingsError
from infrec.serving.worker import LOAD_FAILED_EXIT, run_worker

MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


def _bind(settings: ServerSettings) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


class Master:
    def __init__(self, settings: ServerSettings, sock: socket.socket) -> None:
        self.settings = settings
        self.sock = sock
        self.ready = mmap.mmap(-1, max(settings.workers, 1))  # shared with the forked workers
        self.children: dict[int, int] = {}  # pid → worker index
        self.stopping = False
        self.restarts: list[float] = []
        self.exit_code = 0

    def spawn(self, index: int) -> None:
        self.ready[index] = 0
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                run_worker(self.settings, self.sock, self.ready, index, parent)
                code = 0
            except BaseException as exc:  # a worker must never return into the master's code
                print(f"infrec.serving: worker {index} failed: {exc!r}", file=sys.stderr, flush=True)
            finally:
                os._exit(code)
        self.children[pid] = index

    def stop(self, signum: int = signal.SIGTERM, frame: Any = None) -> None:
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        signal.signal(signal.SIGALRM, self._kill)
        signal.alarm(10)

    def _kill(self, signum: int, frame: Any) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        for i in range(self.settings.workers):
            self.spawn(i)
        print(f"infrec.serving: {self.settings.image.removeprefix(BUILTIN_PREFIX)} model from {self.settings.model_dir}, "
              f"{self.settings.workers} worker(s) on {self.settings.host}:{self.settings.port}",
              file=sys.stderr, flush=True)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = self.children.pop(pid, None)
            if index is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            was_ready = self.ready[index] == 1
            self.ready[index] = 0
            how = f"signal {-code}" if code < 0 else f"code {code}"
            if code == LOAD_FAILED_EXIT or not was_ready:
                print(f"infrec.serving: worker {index} exited with {how} before the model loaded; stopping",
                      file=sys.stderr, flush=True)
                self.exit_code = LOAD_FAILED_EXIT if code == LOAD_FAILED_EXIT else 1
                self.stop()
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(self.restarts) > MAX_RESTARTS:
                print(f"infrec.serving: worker {index} exited with {how}; more than {MAX_RESTARTS} restarts in "
                      f"{RESTART_WINDOW_S:g}s, stopping", file=sys.stderr, flush=True)
                self.exit_code = 1
                self.stop()
                continue
            print(f"infrec.serving: worker {index} exited with {how}; restarting it", file=sys.stderr, flush=True)
            self.spawn(index)
        signal.alarm(0)
        return self.exit_code


def main() -> int:
    try:
        settings = ServerSettings.from_env()
    except SettingsError as exc:
        print(f"infrec.serving: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _bind(settings)
    except OSError as exc:
        print(f"infrec.serving: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    return Master(settings, sock).run()
