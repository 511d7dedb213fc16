"""The processes behind endpoints: deploy, update, delete, watch, and take over after a restart.

Each transition runs in a thread of its own and ends by writing the outcome to the endpoint's row,
so a caller polling DescribeEndpoint sees SageMaker's lifecycle. Endpoints run on the same executor
as jobs (one budget of CPUs and memory for both: a hosted endpoint is never measured against), under
the same emulation policy (`core.emulation.plan`).

A restart never loses an endpoint silently: on start, every endpoint whose owner (a control process)
is gone is brought back (SystemUpdating → InService) or marked Failed with the reason; one left in
Deleting is finished. A watch thread restarts an instance whose process died, up to a limit, then
marks the endpoint Failed with what the process said.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrec.core import emulation
from infrec.core.errors import InfrecError
from infrec.executors.base import CapacityError, EndpointHandle, EndpointSpec, EndpointStartError, Executor
from infrec.hosting.container import model_container
from infrec.hosting.endpoints import (
    CREATING,
    DELETING,
    FAILED,
    IN_SERVICE,
    SYSTEM_UPDATING,
    UPDATING,
    HostingService,
)

log = logging.getLogger("infrec.hosting")

WATCH_INTERVAL_S = 2.0
MAX_RESTARTS = 3          # within RESTART_WINDOW_S, then the endpoint is Failed
RESTART_WINDOW_S = 600.0
JOIN_DEADLINE_S = 30.0


START_ERRORS = (InfrecError, EndpointStartError, emulation.EmulationError, OSError)
"""What starting a fleet may fail with, for a reason on the endpoint rather than a crash."""


def _why(exc: BaseException) -> str:
    return exc.message if isinstance(exc, InfrecError) else str(exc)


def _clip(text: str, limit: int = 1024) -> str:
    """SageMaker's FailureReason holds 1,024 characters: keep the start (what failed) and the end
    (a model server's last words, where the actual error is)."""
    if len(text) <= limit:
        return text
    head = limit // 3
    return text[:head] + " … " + text[-(limit - head - 3):]


@dataclass
class Variant:
    """One running production variant: its instances' URLs behind one executor handle."""

    name: str
    weight: float
    handle: EndpointHandle
    image: str
    started_at: float
    instance_type: str = ""
    restarts: list[float] = field(default_factory=list)
    _next: Any = None

    @property
    def urls(self) -> list[str]:
        return list(self.handle.urls)

    def next_url(self) -> str:
        if self._next is None:
            self._next = itertools.cycle(range(len(self.handle.urls)))
        return self.handle.urls[next(self._next) % len(self.handle.urls)]

    def summary(self) -> dict[str, Any]:
        h = self.handle
        return {"VariantName": self.name, "Urls": self.urls, "Pids": [i.pid for i in h.instances],
                "InstanceType": self.instance_type, "Image": self.image, "StartedAt": self.started_at,
                "LedgerId": h.ledger_id, "Scale": h.scale, "Enforcement": h.enforcement,
                "SetupTimeSeconds": round(h.setup_time_s, 3)}


class Supervisor:
    def __init__(self, service: HostingService, executor: Executor, home: Path, owner: str, *,
                 allow_emulation: bool = True, setup_deadline_s: float = 120.0) -> None:
        self.service = service
        self.executor = executor
        self.home = home
        self.owner = owner
        self.allow_emulation = allow_emulation
        self.setup_deadline_s = setup_deadline_s
        self._live: dict[str, list[Variant]] = {}
        self._lock = threading.RLock()
        self._busy: dict[str, threading.Event] = {}   # endpoint → cancel event of its transition
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._watch = threading.Thread(target=self._watch_loop, name="infrec-hosting-watch", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.service.deployer = self
        self._recover()
        self._watch.start()

    def shutdown(self) -> None:
        """Stop every endpoint's processes (reaped, not orphaned); the rows stay, so the next start
        brings them back."""
        self._stop.set()
        for ev in list(self._busy.values()):
            ev.set()
        for t in list(self._threads):
            t.join(timeout=JOIN_DEADLINE_S)
        with self._lock:
            live, self._live = self._live, {}
        for name, variants in live.items():
            for v in variants:
                self._stop_variant(v)
            self.service.record(name, owner=None, Running=None)
        if self._watch.is_alive():
            self._watch.join(timeout=WATCH_INTERVAL_S * 3)

    def variants(self, name: str) -> list[Variant] | None:
        """The running variants of endpoint `name` (exact name, any case), or None."""
        with self._lock:
            for key, vs in self._live.items():
                if key.lower() == name.lower():
                    return list(vs)
        return None

    # ---------------------------------------------------------------- transitions
    def deploy(self, name: str) -> None:
        self._spawn(name, self._deploy, name, CREATING)

    def update(self, name: str, config_name: str) -> None:
        self._spawn(name, self._update, name)

    def delete(self, name: str) -> None:
        busy = self._busy.get(name)
        if busy is not None:
            busy.set()  # end a deploy in progress; the delete follows it
        self._spawn(name, self._delete, name, wait_for_busy=True)

    def _spawn(self, name: str, fn: Any, *args: Any, wait_for_busy: bool = False) -> None:
        def run() -> None:
            if wait_for_busy:
                deadline = time.monotonic() + self.setup_deadline_s + JOIN_DEADLINE_S
                while name in self._busy and time.monotonic() < deadline:
                    time.sleep(0.05)
            cancel = threading.Event()
            self._busy[name] = cancel
            try:
                fn(*args, cancel)
            except Exception as exc:  # a transition must always end in a state a caller can read
                log.exception("hosting: %s of %s failed", fn.__name__, name)
                self.service.record(name, FAILED, FailureReason=_clip(f"{type(exc).__name__}: {exc}"))
            finally:
                if self._busy.get(name) is cancel:
                    del self._busy[name]

        t = threading.Thread(target=run, name=f"infrec-hosting-{name}", daemon=True)
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _deploy(self, name: str, status: str, cancel: threading.Event) -> None:
        doc = self.service.get_endpoint(name)
        self.service.record(name, status, owner=self.owner, Running=None)
        try:
            variants = self._start_config(name, doc["Config"], cancel)
        except START_ERRORS as exc:
            reason = _why(exc)
            if not self.service.record(name, FAILED, expect=(status,), owner=None, FailureReason=_clip(reason)):
                return
            log.warning("hosting: endpoint %s failed: %s", name, reason)
            return
        if cancel.is_set() or not self.service.record(name, IN_SERVICE, expect=(status,), FailureReason=None,
                                                      Running={"Variants": [v.summary() for v in variants]}):
            for v in variants:
                self._stop_variant(v)
            return
        with self._lock:
            self._live[name] = variants
        log.info("hosting: endpoint %s in service (%s)", name,
                 ", ".join(f"{v.name}: {len(v.urls)} instance(s)" for v in variants))

    def _update(self, name: str, cancel: threading.Event) -> None:
        doc = self.service.get_endpoint(name)
        config = doc["PendingConfig"]
        try:
            variants: list[Variant] | None = self._start_config(name, config, cancel, tag="u")
        except CapacityError:
            variants = self._replace_in_place(name, doc, config, cancel)
        except START_ERRORS as exc:
            self._rolled_back(name, config, exc)
            return
        if variants is None:
            return
        with self._lock:
            old, self._live[name] = self._live.get(name, []), variants
        self.service.record(name, IN_SERVICE, EndpointConfigName=config["EndpointConfigName"], Config=config,
                            PendingConfig=None, FailureReason=None,
                            Running={"Variants": [v.summary() for v in variants]})
        for v in old:
            self._stop_variant(v)

    def _replace_in_place(self, name: str, doc: dict[str, Any], config: dict[str, Any],
                          cancel: threading.Event) -> list[Variant] | None:
        """Blue/green needs room for both fleets; a host without it stops the old fleet, starts the new
        one and, if that fails, starts the old one again. None when the update failed (the row says so)."""
        log.info("hosting: no room to run %s's new fleet beside the old one; replacing it in place", name)
        with self._lock:
            old = self._live.pop(name, [])
        for v in old:
            self._stop_variant(v)
        try:
            return self._start_config(name, config, cancel, tag="u")
        except START_ERRORS as exc:
            failure = exc
        try:
            back = self._start_config(name, doc["Config"], cancel)
        except START_ERRORS as again:
            self.service.record(name, FAILED, owner=None, Running=None, PendingConfig=None,
                                FailureReason=_clip(f"update failed ({_why(failure)}) and the previous "
                                                    f"configuration did not start again: {_why(again)}"))
            return None
        with self._lock:
            self._live[name] = back
        self._rolled_back(name, config, failure, running=back)
        return None

    def _rolled_back(self, name: str, config: dict[str, Any], exc: BaseException,
                     running: list[Variant] | None = None) -> None:
        fields: dict[str, Any] = {"Running": {"Variants": [v.summary() for v in running]}} if running else {}
        self.service.record(name, IN_SERVICE, PendingConfig=None, **fields,
                            FailureReason=_clip(f"Update to endpoint configuration {config['EndpointConfigName']!r} "
                                                f"failed and was rolled back: {_why(exc)}"))

    def _delete(self, name: str, cancel: threading.Event) -> None:
        with self._lock:
            variants = self._live.pop(name, [])
        for v in variants:
            self._stop_variant(v)
        shutil.rmtree(self.home / "endpoints" / name, ignore_errors=True)
        self.service.remove(name)

    # ------------------------------------------------------------------ processes
    def _start_config(self, name: str, config: dict[str, Any], cancel: threading.Event,
                      tag: str = "") -> list[Variant]:
        started: list[Variant] = []
        try:
            for v in config["ProductionVariants"]:
                if cancel.is_set():
                    raise EndpointStartError("the endpoint is being deleted")
                started.append(self._start_variant(name, v, cancel, tag))
        except BaseException:
            for v in started:
                self._stop_variant(v)
            raise
        return started

    def _start_variant(self, name: str, variant: dict[str, Any], cancel: threading.Event, tag: str) -> Variant:
        from infrec.artifacts.uri import ArtifactError

        container = model_container(self.service.registry, variant["ModelName"])
        itype = self.service.catalog.get(variant["InstanceType"])
        count = int(variant.get("InitialInstanceCount") or 1)
        cpus, mem_gib = self.executor.capacity()
        emu = emulation.plan(itype, count, cpus, int(mem_gib * 1024**3), container.environment,
                             allow_emulation=self.allow_emulation)
        model_dir: Path | None = None
        if container.model_data_url:
            model_dir = self.home / "endpoints" / name / f"{variant['VariantName']}{tag}" / "model"
            shutil.rmtree(model_dir, ignore_errors=True)
            model_dir.mkdir(parents=True)
            try:
                self.service.registry.files.fetch_and_extract(container.model_data_url, model_dir)
            except ArtifactError as exc:
                raise EndpointStartError(f"model data {container.model_data_url}: {exc}") from exc
        spec = EndpointSpec(name=f"ep-{name}-{variant['VariantName']}"[:60], image=container.image,
                            model_dir=model_dir, environment=container.environment, instance_type=itype,
                            instance_count=count, scale=emu.scale, setup_deadline_s=self.setup_deadline_s,
                            memory_limit_bytes=emu.memory_bytes)
        handle = self.executor.start(spec, cancel=cancel)
        return Variant(name=variant["VariantName"], weight=float(variant.get("InitialVariantWeight", 1.0)),
                       handle=handle, image=container.image, started_at=round(time.time(), 3),
                       instance_type=itype.name)

    def _stop_variant(self, v: Variant) -> None:
        try:
            self.executor.stop(v.handle)
        except Exception:  # one endpoint that will not stop must not keep the others running
            log.exception("hosting: stopping variant %s failed", v.name)

    # --------------------------------------------------------------- after restart
    def _recover(self) -> None:
        from infrec.jobs.scheduler import owner_alive

        for name, status, owner in self.service.rows():
            if owner and owner != self.owner and owner_alive(owner):
                continue  # another live server runs it
            if status == DELETING:
                self._spawn(name, self._delete, name)
            elif status in (CREATING, UPDATING, SYSTEM_UPDATING, IN_SERVICE):
                if status == UPDATING:
                    self.service.record(name, PendingConfig=None)
                log.info("hosting: bringing back endpoint %s (was %s)", name, status)
                self._spawn(name, self._deploy, name, SYSTEM_UPDATING if status != CREATING else CREATING)

    # ----------------------------------------------------------------------- watch
    def _watch_loop(self) -> None:
        while not self._stop.wait(WATCH_INTERVAL_S):
            with self._lock:
                items = [(n, list(vs)) for n, vs in self._live.items()]
            for name, variants in items:
                if name in self._busy:
                    continue
                for v in variants:
                    try:
                        problem = self.executor.health(v.handle)
                    except Exception as exc:  # a probe that fails is itself a finding
                        problem = str(exc)
                    if problem:
                        self._replace(name, v, problem)

    def _fail(self, name: str, reason: str) -> None:
        """Stop what still runs of the endpoint and mark it Failed with `reason`."""
        with self._lock:
            variants = self._live.pop(name, [])
        for other in variants:
            self._stop_variant(other)
        self.service.record(name, FAILED, owner=None, Running=None, FailureReason=_clip(reason))

    def _replace(self, name: str, v: Variant, problem: str) -> None:
        now = time.time()
        v.restarts = [t for t in v.restarts if now - t < RESTART_WINDOW_S] + [now]
        self._stop_variant(v)
        if len(v.restarts) > MAX_RESTARTS:
            self._fail(name, f"variant {v.name}: {problem} ({len(v.restarts)} times in "
                             f"{RESTART_WINDOW_S / 60:g} minutes); not restarted again")
            return
        log.warning("hosting: endpoint %s variant %s: %s; restarting it", name, v.name, problem)
        doc = self.service.get_endpoint(name)
        spec = next(x for x in doc["Config"]["ProductionVariants"] if x["VariantName"] == v.name)
        try:
            fresh = self._start_variant(name, spec, threading.Event(), "")
        except START_ERRORS as exc:
            self._fail(name, f"variant {v.name}: {problem}; restarting it failed: {_why(exc)}")
            return
        fresh.restarts = v.restarts
        with self._lock:
            vs = self._live.get(name)
            if vs is None:
                self._stop_variant(fresh)
                return
            self._live[name] = [fresh if x is v else x for x in vs]
            running = [x.summary() for x in self._live[name]]
        self.service.record(name, Running={"Variants": running})
