"""The one parser of setting values: flags, whole numbers, numbers, durations, CPU lists, choices and
folder lists, each read the same way wherever infrec takes a setting.

A value infrec cannot use is an error naming the variable and what it accepts, raised when the
settings are built (at start), never a silent fallback: a typo in `INFREC_NO_EMULATION=ys` would
otherwise measure something other than what the operator asked for. An unset or empty variable is
None, so the caller's default applies.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
_DURATION = re.compile(r"^(?P<n>[0-9]*\.?[0-9]+)\s*(?P<unit>ms|s|m|h)?$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class SettingError(ValueError):
    """Settings infrec cannot use; the message names each variable and what it accepts."""


class EnvReader:
    """Reads typed values from one environment mapping and collects every bad one, so a start that
    fails names all the variables to fix at once rather than one per attempt."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        """The stripped value, None when unset or empty."""
        value = self.env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def _bad(self, name: str, raw: str, accepts: str) -> None:
        self.problems.append(f"{name}={raw!r}: {accepts}")

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def flag(self, name: str, default: bool) -> bool:
        raw = self.raw(name)
        if raw is None:
            return default
        value = parse_flag(raw)
        if value is None:
            self._bad(name, raw, f"use one of {'/'.join(TRUE)} or {'/'.join(FALSE)}")
            return default
        return value

    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int:
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = None
        if value is None or (minimum is not None and value < minimum):
            self._bad(name, raw, "a whole number" + (f" of at least {minimum}" if minimum is not None else ""))
            return default
        return value

    def number(self, name: str, default: float, *, low: float, high: float, low_open: bool = False) -> float:
        """A number in [low, high] (`low_open`: (low, high])."""
        raw = self.raw(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        below = value <= low if low_open else value < low
        if math.isnan(value) or below or value > high:
            self._bad(name, raw, f"a number in {'(' if low_open else '['}{low:g}, {high:g}]")
            return default
        return value

    def duration(self, name: str, default: float, *, high: float = math.inf) -> float:
        """Seconds: "30", "30s", "1.5", "500ms", "5m" or "1h"; never negative."""
        raw = self.raw(name)
        if raw is None:
            return default
        value = parse_duration(raw)
        if value is None or value > high:
            limit = f" of at most {high:g} s" if math.isfinite(high) else ""
            self._bad(name, raw, f"a duration{limit} such as 30, 30s, 500ms, 5m or 1h")
            return default
        return value

    def choice(self, name: str, default: str, options: Sequence[str]) -> str:
        raw = self.raw(name)
        if raw is None:
            return default
        value = raw.lower()
        if value not in options:
            self._bad(name, raw, f"one of {', '.join(options)}")
            return default
        return value

    def cpu_list(self, name: str) -> tuple[int, ...] | None:
        """A CPU list such as "0", "0-1" or "0,2-3" (as taskset and cpusets write them), sorted."""
        raw = self.raw(name)
        if raw is None:
            return None
        value = parse_cpu_list(raw)
        if value is None:
            self._bad(name, raw, "a CPU list such as 0, 0-1 or 0,2-3")
        return value

    def paths(self, name: str) -> tuple[Path, ...] | None:
        """Folders separated by the path separator (as PATH is written), made absolute."""
        raw = self.raw(name)
        if raw is None:
            return None
        return tuple(Path(p).expanduser().absolute() for p in raw.split(os.pathsep) if p.strip())

    def path(self, name: str) -> Path | None:
        raw = self.raw(name)
        return None if raw is None else Path(raw).expanduser()

    def check(self) -> None:
        """Raise SettingError naming every bad value read so far."""
        if self.problems:
            raise SettingError("; ".join(self.problems))


def parse_flag(raw: str) -> bool | None:
    """True for 1/true/yes/on, False for 0/false/no/off (any case); None for anything else."""
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    return None


def parse_duration(raw: str) -> float | None:
    """Seconds from "30", "30s", "1.5", "500ms", "5m" or "1h"; None when it is none of those."""
    m = _DURATION.match(raw.strip().lower())
    if m is None:
        return None
    return float(m.group("n")) * _UNIT_S[m.group("unit")]


def parse_cpu_list(raw: str) -> tuple[int, ...] | None:
    """The CPUs of "0", "0-1" or "0,2-3", sorted; None when it is not such a list."""
    chosen: set[int] = set()
    try:
        for part in raw.split(","):
            lo, dash, hi = part.strip().partition("-")
            first, last = int(lo), int(hi) if dash else int(lo)
            if not 0 <= first <= last < 65536:
                return None
            chosen.update(range(first, last + 1))
    except ValueError:
        return None
    return tuple(sorted(chosen))
