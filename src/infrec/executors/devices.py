"""Accelerators on this host, and whether an instance type's accelerators are really here.

No figure from the wrong hardware: an accelerated instance type (ml.g*, ml.p*, ml.inf*, ml.trn*)
benchmarked on a host without its devices would run as a CPU machine and then be priced and ranked
as the GPU instance. `accelerator_refusal` says why such a step must not run; there is deliberately
no switch to run it anyway.

What the host has comes from, in order:

- ``INFREC_HOST_DEVICES`` (``Settings.host_devices``, handed to `host_devices`): a declaration, JSON, e.g.
  ``{"nvidia": [{"name": "NVIDIA T4", "memory_gib": 16}], "neuron": []}`` (tests; a host whose
  nvidia-smi is not on the PATH). ``{}`` declares a host with no accelerator.
- detection: NVIDIA GPUs from ``/dev/nvidia[0-9]*``, named by ``nvidia-smi --query-gpu=name,
  memory.total`` when it is installed; AWS Neuron devices (Inferentia, Trainium) from
  ``/dev/neuron[0-9]*``, their generation from the EC2 instance type in the machine's DMI data.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infrec.core.catalog import InstanceType

DEVICES_ENV = "INFREC_HOST_DEVICES"
NVIDIA = "nvidia"
NEURON = "neuron"
VENDOR_LABEL = {NVIDIA: "NVIDIA GPU", NEURON: "AWS Neuron device (Inferentia/Trainium)"}
ACCELERATED_FAMILY = re.compile(r"^ml\.(g|p|inf|trn)\d", re.IGNORECASE)
_VENDOR_WORDS = {"NVIDIA", "AWS", "TESLA", "AMAZON"}
_NEURON_BY_FAMILY = {"inf1": "AWS Inferentia", "inf2": "AWS Inferentia2", "trn1": "AWS Trainium",
                     "trn1n": "AWS Trainium", "trn2": "AWS Trainium2"}
MEMORY_TOLERANCE = 0.9  # a "16 GiB" T4 reports 15360 MiB


@dataclass(frozen=True)
class Device:
    """One accelerator: its vendor (`nvidia`, `neuron`), model name ("" when it could not be read)
    and memory in GiB (None when unknown)."""

    vendor: str
    name: str = ""
    memory_gib: float | None = None

    def label(self) -> str:
        name = self.name or f"{VENDOR_LABEL[self.vendor]} of unknown model"
        return name + (f" ({self.memory_gib:g} GiB)" if self.memory_gib else "")


@dataclass(frozen=True)
class HostDevices:
    """What a host has. `source` says where it came from; `notes` what detection could not read."""

    devices: tuple[Device, ...] = ()
    source: str = "detected"
    notes: tuple[str, ...] = field(default=())

    def of(self, vendor: str) -> list[Device]:
        return [d for d in self.devices if d.vendor == vendor]

    def describe(self, vendor: str | None = None) -> str:
        devs = self.devices if vendor is None else tuple(self.of(vendor))
        if not devs:
            return "none"
        counts: dict[str, int] = {}
        for d in devs:
            counts[d.label()] = counts.get(d.label(), 0) + 1
        return ", ".join(f"{n} × {label}" for label, n in counts.items())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {NVIDIA: [], NEURON: []}
        for d in self.devices:
            out.setdefault(d.vendor, []).append({"name": d.name, "memory_gib": d.memory_gib})
        return out

    @classmethod
    def from_json(cls, text: str, source: str = DEVICES_ENV) -> HostDevices:
        """Parse a declaration such as INFREC_HOST_DEVICES; raises ValueError naming what is wrong."""
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source} is not valid JSON ({exc})") from None
        if not isinstance(doc, Mapping):
            raise ValueError(f'{source} must be an object such as {{"nvidia": [{{"name": "NVIDIA T4", '
                             f'"memory_gib": 16}}]}}')
        devices: list[Device] = []
        for vendor, items in doc.items():
            if vendor not in VENDOR_LABEL:
                raise ValueError(f"{source}: unknown vendor {vendor!r} (use {NVIDIA!r} or {NEURON!r})")
            if not isinstance(items, list):
                raise ValueError(f"{source}: {vendor!r} must be a list of devices")
            for item in items:
                if isinstance(item, str):
                    item = {"name": item}
                if not isinstance(item, Mapping) or not isinstance(item.get("name", ""), str):
                    raise ValueError(f"{source}: each {vendor} device is an object with a 'name'")
                mem = item.get("memory_gib")
                if mem is not None and (isinstance(mem, bool) or not isinstance(mem, int | float)):
                    raise ValueError(f"{source}: memory_gib of {item.get('name')!r} must be a number")
                devices.append(Device(vendor, str(item.get("name", "")), float(mem) if mem else None))
        return cls(tuple(devices), source=source)


# ------------------------------------------------------------------------------------- detection

def _nvidia_smi(exe: str, timeout_s: float) -> tuple[list[Device], str | None]:
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"nvidia-smi failed: {exc}"
    if out.returncode != 0:
        return [], f"nvidia-smi failed: {(out.stderr or out.stdout).strip()[:200]}"
    found = []
    for line in out.stdout.splitlines():
        if not line.strip():
            continue
        name, _, mem = line.rpartition(",")
        if not name:
            name, mem = mem, ""
        try:
            gib: float | None = round(float(mem.strip().split()[0]) / 1024, 1)
        except (ValueError, IndexError):
            gib = None
        found.append(Device(NVIDIA, name.strip(), gib))
    return found, None


def _ec2_family(dmi: Path) -> str:
    """`inf2` on an inf2.xlarge: EC2 Nitro machines name their instance type in the DMI data."""
    for f in ("product_name", "product_version"):
        try:
            text = (dmi / f).read_text(encoding="utf-8", errors="replace").strip().lower()
        except OSError:
            continue
        m = re.match(r"^([a-z]+\d+[a-z]*)\.", text)
        if m:
            return m.group(1)
    return ""


def detect(dev: Path = Path("/dev"), nvidia_smi: str | None = None, *, timeout_s: float = 10.0,
           dmi: Path = Path("/sys/devices/virtual/dmi/id")) -> HostDevices:
    """Look at this host's device nodes (and nvidia-smi when there are NVIDIA ones)."""
    devices: list[Device] = []
    notes: list[str] = []
    nodes = sorted(p for p in dev.glob("nvidia*") if re.fullmatch(r"nvidia\d+", p.name))
    if nodes:
        exe = nvidia_smi or shutil.which("nvidia-smi")
        named: list[Device] = []
        if exe is None:
            notes.append(f"{len(nodes)} NVIDIA device node(s) in {dev} but no nvidia-smi to name them")
        else:
            named, problem = _nvidia_smi(exe, timeout_s)
            if problem:
                notes.append(problem)
        # Device nodes are what a process can use; nvidia-smi names them (it sees the same ones).
        devices += named if named else [Device(NVIDIA) for _ in nodes]
    neuron = sorted(p for p in dev.glob("neuron*") if re.fullmatch(r"neuron\d+", p.name))
    if neuron:
        family = _ec2_family(dmi)
        kind = _NEURON_BY_FAMILY.get(family, "")
        if not kind:
            notes.append(f"{len(neuron)} Neuron device(s) in {dev} of unknown generation "
                         "(not an EC2 inf/trn instance)")
        devices += [Device(NEURON, kind) for _ in neuron]
    return HostDevices(tuple(devices), "detected", tuple(notes))


_detected: HostDevices | None = None
_detect_mutex = threading.Lock()


def host_devices(declared: HostDevices | None = None) -> HostDevices:
    """This host's accelerators: `declared` when given (Settings.host_devices, from
    INFREC_HOST_DEVICES), else detected once per process (the hardware does not change)."""
    global _detected
    if declared is not None:
        return declared
    with _detect_mutex:
        if _detected is None:
            _detected = detect()
        return _detected


# --------------------------------------------------------------------------------------- matching

def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^A-Z0-9]+", text.upper()) if t}


def vendor_of(kind: str) -> str | None:
    t = _tokens(kind)
    if "NVIDIA" in t or "TESLA" in t:
        return NVIDIA
    if t & {"INFERENTIA", "INFERENTIA2", "TRAINIUM", "TRAINIUM2"}:
        return NEURON
    return None


def matches(kind: str, memory_gib: float, device: Device) -> bool:
    """Whether `device` is an accelerator of `kind` (model words such as T4, A10G, Inferentia2 all
    present in its name) with at least about `memory_gib` of memory."""
    model = _tokens(kind) - _VENDOR_WORDS
    if not device.name or not model or not model <= _tokens(device.name):
        return False
    return not (memory_gib and device.memory_gib is not None
                and device.memory_gib < memory_gib * MEMORY_TOLERANCE)


def accelerator_refusal(itype: InstanceType, devices: HostDevices, instance_count: int = 1) -> str | None:
    """None when `instance_count` × `itype` may run on a host with `devices`, else why not: an
    accelerated type needs that many devices of its kind here; without them its figures would be a
    CPU machine's, priced as the accelerated instance."""
    acc = itype.accelerators
    cpu_run = (f"so it would run as a {itype.vcpus:g}-vCPU CPU machine and be priced as the "
               f"accelerated instance")
    remedy = "Choose a CPU instance type (ml.c5/ml.m5/ml.c6i/...), or run infrec on a host (or Ray node) with"
    if acc is None:
        if ACCELERATED_FAMILY.match(itype.name):
            return (f"{itype.name} is an accelerated instance family but the catalog lists no accelerators "
                    f"for it, {cpu_run}. Choose a CPU instance type, or give it its accelerators in the "
                    f"catalog file")
        return None
    need = acc.count * max(1, instance_count)
    what = f"{itype.name} has {acc.describe()}"
    if instance_count > 1:
        what += f" per instance ({need} for {instance_count} instances)"
    vendor = vendor_of(acc.kind)
    if vendor is None:
        return (f"{what}; infrec cannot detect {acc.kind} devices, {cpu_run}. {remedy} "
                f"{acc.kind} and a catalog kind infrec knows (NVIDIA …, AWS Inferentia/Trainium)")
    have = devices.of(vendor)
    declared = "" if devices.source == "detected" else f" (as declared by {devices.source})"
    remedy += f" {need} × {acc.kind}"
    if not have:
        return f"{what}; this host has no {VENDOR_LABEL[vendor]}{declared}, {cpu_run}. {remedy}"
    good = [d for d in have if matches(acc.kind, acc.memory_gib, d)]
    if len(good) >= need:
        return None
    if not any(d.name for d in have):
        notes = f" ({'; '.join(devices.notes)})" if devices.notes else ""
        return (f"{what}; this host has {len(have)} {VENDOR_LABEL[vendor]}(s) whose model cannot be "
                f"read{notes}, so infrec cannot tell that they are {acc.kind}. Install the vendor's tools "
                f"(nvidia-smi) or declare the devices with {DEVICES_ENV}, or choose a CPU instance type")
    if good:
        return (f"{what}; this host has only {len(good)} × {acc.kind} (all its {VENDOR_LABEL[vendor]}s: "
                f"{devices.describe(vendor)}){declared}. Use fewer instances (or a size with fewer devices), "
                f"or a host (or Ray node) with {need} × {acc.kind}")
    return (f"{what}; this host's {VENDOR_LABEL[vendor]}s are {devices.describe(vendor)}{declared}, not "
            f"{acc.kind}, so its figures would be another machine's priced as {itype.name}. {remedy}")
