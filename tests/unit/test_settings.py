"""The settings: one typed object read once, one parser for every value, and the README's table of
variables kept in step with the object's fields (names and defaults) by parsing the table."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from infrec.config import SettingError, Settings, setting_names
from infrec.setting_values import parse_cpu_list, parse_duration, parse_flag

README = Path(__file__).resolve().parents[2] / "README.md"
# Defaults the table describes in words because they follow from another setting or from the mode.
DERIVED = {"INFREC_DATABASE_URL", "INFREC_ALLOW_COMMANDS"}


def _table() -> dict[str, str]:
    """Variable → its default cell, for every INFREC_* row of README's settings table."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Settings\n"):]
    section = section[:section.index("\n### ", 1)]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| `INFREC_"):
            continue
        names_cell, _meaning, default_cell = (c.strip() for c in line.strip().strip("|").split(" | "))
        names = re.findall(r"`(INFREC_\w+)`", names_cell)
        defaults = [d.strip() for d in default_cell.split(", ")] if len(names) > 1 else [default_cell]
        assert len(defaults) == len(names), line
        rows.update(zip(names, defaults, strict=True))
    return rows


def _literal(cell: str) -> tuple[bool, object]:
    """(True, value) for a default the table gives as a value; (False, None) for one it describes."""
    if m := re.fullmatch(r"`([^`]+)`", cell):
        return True, Path(m.group(1)).absolute() if m.group(1).startswith("./") else m.group(1)
    if cell in ("off", "on"):
        return True, cell == "on"
    if m := re.fullmatch(r"([0-9][0-9 ]*(?:\.[0-9]+)?)( GiB)?", cell):
        number = float(m.group(1).replace(" ", ""))
        return True, number * 1024**3 if m.group(2) else number
    return False, None


def test_readme_table_lists_exactly_the_settings() -> None:
    assert set(_table()) == set(setting_names())


def test_readme_defaults_are_the_settings_defaults() -> None:
    defaults = Settings.from_env({})
    for name, cell in _table().items():
        value = getattr(defaults, setting_names()[name])
        literal, expected = _literal(cell)
        if literal:
            assert value == expected, (name, cell, value)
        elif name not in DERIVED:
            assert value is None, f"{name}: the table describes its default ({cell!r}), yet it is {value!r}"
    assert defaults.database_url == f"sqlite:///{defaults.home / 'infrec.db'}"
    assert defaults.allow_commands is True and Settings.from_env({}, served=True).allow_commands is False


def test_every_field_but_the_mode_comes_from_a_variable() -> None:
    from_env = set(setting_names().values())
    assert {f.name for f in dataclasses.fields(Settings)} - from_env == {"confine_files"}


@pytest.mark.parametrize("raw", ["1", "true", "YES", "On", " yes "])
def test_flags_accept_every_yes(raw: str) -> None:
    assert parse_flag(raw) is True
    assert Settings.from_env({"INFREC_NO_EMULATION": raw}).allow_emulation is False
    assert Settings.from_env({"INFREC_KEEP_ARTIFACTS": raw}).keep_artifacts is True


@pytest.mark.parametrize("raw", ["0", "false", "No", "OFF"])
def test_flags_accept_every_no(raw: str) -> None:
    assert parse_flag(raw) is False
    assert Settings.from_env({"INFREC_ALLOW_COMMANDS": raw}).allow_commands is False


def test_a_bad_flag_is_an_error_naming_the_variable() -> None:
    with pytest.raises(SettingError, match=r"INFREC_NO_EMULATION='ys': use one of 1/true/yes/on or 0/false/no/off"):
        Settings.from_env({"INFREC_NO_EMULATION": "ys"})
    with pytest.raises(ValueError, match="INFREC_ALLOW_COMMANDS"):  # SettingError is a ValueError
        Settings.from_env({"INFREC_ALLOW_COMMANDS": "maybe"}, served=True)


def test_unset_or_empty_means_the_default() -> None:
    assert Settings.from_env({"INFREC_NO_EMULATION": "", "INFREC_TRIAL_SECONDS": "  "}) == Settings.from_env({})


@pytest.mark.parametrize(("raw", "seconds"), [("30", 30.0), ("30s", 30.0), ("1.5", 1.5), ("500ms", 0.5),
                                               ("5m", 300.0), ("1h", 3600.0), ("2 m", 120.0)])
def test_durations(raw: str, seconds: float) -> None:
    assert parse_duration(raw) == seconds
    assert Settings.from_env({"INFREC_HOLD_SECONDS": raw}).hold_seconds == seconds


@pytest.mark.parametrize("raw", ["-1", "soon", "5 minutes", "1d", "inf"])
def test_bad_durations(raw: str) -> None:
    assert parse_duration(raw) is None
    with pytest.raises(SettingError, match=r"INFREC_TRIAL_SECONDS=.*a duration"):
        Settings.from_env({"INFREC_TRIAL_SECONDS": raw})


def test_warmup_is_whole_seconds_up_to_30() -> None:
    assert Settings.from_env({"INFREC_WARMUP_SECONDS": "0"}).warmup_seconds == 0.0
    assert Settings.from_env({"INFREC_WARMUP_SECONDS": "0.5"}).warmup_seconds == 1.0
    with pytest.raises(SettingError, match="INFREC_WARMUP_SECONDS='31': a duration of at most 30 s"):
        Settings.from_env({"INFREC_WARMUP_SECONDS": "31"})


def test_numbers_choices_and_cpu_lists() -> None:
    s = Settings.from_env({"INFREC_MAX_ARCHIVE_BYTES": "1_000", "INFREC_LOADGEN_MAX_BUSY": "1",
                           "INFREC_ARRIVAL": "Uniform", "INFREC_LOADGEN_CPUS": "0,2-3",
                           "INFREC_EXECUTOR": "ray", "INFREC_S3_ADDRESSING_STYLE": "path"})
    assert (s.max_archive_bytes, s.loadgen_max_busy, s.arrival, s.loadgen_cpus, s.executor,
            s.s3_addressing_style) == (1000, 1.0, "uniform", (0, 2, 3), "ray", "path")
    assert parse_cpu_list("0-1") == (0, 1) and parse_cpu_list("1-0") is None and parse_cpu_list("a") is None
    for name, raw, accepts in (("INFREC_MAX_ARCHIVE_MEMBERS", "0", "a whole number of at least 1"),
                               ("INFREC_LOADGEN_MAX_BUSY", "0", "a number in (0, 1]"),
                               ("INFREC_ARRIVAL", "bursty", "one of poisson, uniform"),
                               ("INFREC_EXECUTOR", "k8s", "one of local, ray"),
                               ("INFREC_LOADGEN_CPUS", "0-", "a CPU list such as 0, 0-1 or 0,2-3")):
        with pytest.raises(SettingError) as info:
            Settings.from_env({name: raw})
        assert str(info.value) == f"{name}={raw!r}: {accepts}"


def test_every_bad_value_is_named_at_once() -> None:
    with pytest.raises(SettingError) as info:
        Settings.from_env({"INFREC_HOLD_SECONDS": "x", "INFREC_KEEP_ARTIFACTS": "y", "INFREC_HOST_DEVICES": "[1"})
    assert all(name in str(info.value) for name in ("INFREC_HOLD_SECONDS", "INFREC_KEEP_ARTIFACTS",
                                                    "INFREC_HOST_DEVICES"))


def test_host_lock_and_devices() -> None:
    assert Settings.from_env({"INFREC_HOST_LOCK": "OFF"}).host_lock == "off"
    assert Settings.from_env({"INFREC_HOST_LOCK": "/x/lock"}).host_lock == Path("/x/lock")
    declared = Settings.from_env({"INFREC_HOST_DEVICES": '{"nvidia": ["NVIDIA T4"]}'}).host_devices
    assert declared is not None and declared.of("nvidia")[0].name == "NVIDIA T4"


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.hold_seconds = 1.0  # type: ignore[misc]
