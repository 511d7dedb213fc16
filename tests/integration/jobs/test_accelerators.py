"""No figure from the wrong hardware, one benchmark at a time per host — through real jobs on a real
`infrec serve`:

- an accelerated instance type on a host without its devices fails at once with the reason, before the
  job even waits for the host, while the job's CPU step runs and is the only recommendation;
- a job waits while another process holds the host lock, shows whom it waits for (`infrec jobs describe`),
  and runs when the host is free; a stop while waiting ends it STOPPED; a deadline while waiting fails
  its steps naming the holder;
- a host declared WITH the matching GPU is not refused (the step waits for the host; it never runs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrec.config import Settings
from infrec.core.catalog import Catalog
from infrec.executors.devices import HostDevices, accelerator_refusal, detect, host_devices
from infrec.jobs.recommendation_jobs import DEFAULT_INSTANCE_TYPES
from tests.helpers import InfrecServer, LockHolder
from tests.integration.jobs.conftest import endpoint_processes, job_env, wait_no_endpoints

ROLE = "arn:aws:iam::000000000000:role/infrec"
EXE = str(Path(sys.executable).parent / "infrec")
T4 = json.dumps({"nvidia": [{"name": "NVIDIA T4", "memory_gib": 16}]})

@pytest.fixture
def lock_path(tmp_path: Path) -> Path:
    return tmp_path / "host.lock"


@pytest.fixture
def server_env(tmp_path: Path, lock_path: Path) -> dict[str, str]:
    return {**job_env(tmp_path / "home"), "INFREC_HOST_LOCK": str(lock_path), "INFREC_HOST_DEVICES": "{}"}


@pytest.fixture
def holder(lock_path: Path) -> Iterator[LockHolder]:
    h = LockHolder(lock_path, "other-job")
    try:
        yield h
    finally:
        h.kill()


def _register(sm: Any, payload: Path) -> str:
    sm.create_model_package_group(ModelPackageGroupName="synthetic")
    return str(sm.create_model_package(
        ModelPackageGroupName="synthetic",
        InferenceSpecification={
            "Containers": [{"Image": "infrec/synthetic", "Environment": {"INFREC_SYNTHETIC_SERVICE_MS": "2"}}],
            "SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"],
        },
        SamplePayloadUrl=payload.as_uri())["ModelPackageArn"])


def _create(sm: Any, name: str, arn: str, types: list[str], duration_s: int = 300) -> None:
    sm.create_inference_recommendations_job(
        JobName=name, JobType="Advanced", RoleArn=ROLE,
        InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": duration_s,
                     "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                         {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 4}]},
                     "ResourceLimit": {"MaxParallelOfTests": 1},
                     "EndpointConfigurations": [{"InstanceType": t} for t in types]})


def _wait(sm: Any, name: str, statuses: set[str], timeout: float) -> dict[str, Any]:
    end = time.monotonic() + timeout
    d: dict[str, Any] = {}
    while time.monotonic() < end:
        d = sm.describe_inference_recommendations_job(JobName=name)
        if d["Status"] in statuses:
            return dict(d)
        time.sleep(0.3)
    raise AssertionError(f"job {name} not in {statuses} within {timeout}s: {d.get('Status')}")


def _steps(sm: Any, name: str) -> dict[str, dict[str, Any]]:
    steps = sm.list_inference_recommendations_job_steps(JobName=name)["Steps"]
    return {s["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"]: s for s in steps}


def _describe(env: dict[str, str], name: str) -> dict[str, Any]:
    """What `infrec jobs describe NAME --output json` shows a user (embedded: it reads the job's database)."""
    out = subprocess.run([EXE, "jobs", "describe", name, "--output", "json"], capture_output=True, text=True,
                         timeout=60,
                         env={k: v for k, v in {**os.environ, **env}.items() if k != "INFREC_ENDPOINT_URL"})
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def _wait_waiting(env: dict[str, str], name: str, timeout: float = 60) -> dict[str, Any]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        d = _describe(env, name)
        if ((d["Details"]["Result"] or {}).get("HostLock") or {}).get("Waiting"):
            return d
        time.sleep(0.5)
    raise AssertionError(f"job {name} never said it waits for the host")


# ---------------------------------------------------------------------------------------- job flow

def test_gpu_step_refused_cpu_step_runs_after_the_host_frees(
        tmp_path: Path, payload_archive: Path, server_env: dict[str, str], holder: LockHolder) -> None:
    home = tmp_path / "home"
    srv = InfrecServer(server_env)
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        _create(sm, "mixed", arn, ["ml.g4dn.xlarge", "ml.c5.large"])

        # While another process holds the host, the job waits and says for whom ...
        d = _wait_waiting(server_env, "mixed")
        message = d["Details"]["Result"]["HostLock"]["Waiting"]
        assert f"pid {holder.pid}" in message and "job other-job" in message, message
        by_type = {s["EndpointConfiguration"]["InstanceType"]: s for s in d["Details"]["Steps"]}
        assert by_type["ml.c5.large"]["Status"] == "PENDING"
        assert by_type["ml.c5.large"]["Progress"]["Waiting"] == message
        # ... and the GPU step was refused before it waited: nothing started for it.
        gpu = by_type["ml.g4dn.xlarge"]
        assert gpu["Status"] == "FAILED" and gpu["EndedAt"] and "InvocationStartTime" not in gpu
        assert endpoint_processes(home) == []

        holder.release()
        job = _wait(sm, "mixed", {"COMPLETED", "FAILED"}, 240)
        assert job["Status"] == "COMPLETED", job.get("FailureReason")
        steps = _steps(sm, "mixed")
        assert steps["ml.c5.large"]["Status"] == "COMPLETED"
        assert steps["ml.g4dn.xlarge"]["Status"] == "FAILED"
        reason = steps["ml.g4dn.xlarge"]["InferenceBenchmark"]["FailureReason"]
        assert "ml.g4dn.xlarge has 1 × NVIDIA T4 (16 GiB)" in reason and "no NVIDIA GPU" in reason
        assert "4-vCPU CPU machine" in reason and "Choose a CPU instance type" in reason
        assert [r["EndpointConfiguration"]["InstanceType"] for r in job["InferenceRecommendations"]] == \
            ["ml.c5.large"]
        result = _describe(server_env, "mixed")["Details"]["Result"]
        assert result["HostLock"]["WaitedSeconds"] > 0
        assert "Progress" not in _describe(server_env, "mixed")["Details"]["Steps"][1]
    finally:
        srv.stop()
    assert wait_no_endpoints(home) == []


def test_matching_gpu_not_refused_stop_and_deadline_while_waiting(
        tmp_path: Path, payload_archive: Path, server_env: dict[str, str], holder: LockHolder) -> None:
    home = tmp_path / "home"
    env = {**server_env, "INFREC_HOST_DEVICES": T4}  # this host declares one T4, no Neuron device
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        arn = _register(sm, payload_archive)
        _create(sm, "gpu", arn, ["ml.g4dn.xlarge", "ml.inf2.xlarge"])
        d = _wait_waiting(env, "gpu")
        by_type = {s["EndpointConfiguration"]["InstanceType"]: s for s in d["Details"]["Steps"]}
        # The T4 step is not refused: it waits for the host like any step (it never gets to run here).
        assert by_type["ml.g4dn.xlarge"]["Status"] == "PENDING"
        assert f"pid {holder.pid}" in by_type["ml.g4dn.xlarge"]["Progress"]["Waiting"]
        inf2 = by_type["ml.inf2.xlarge"]
        assert inf2["Status"] == "FAILED" and "no AWS Neuron device" in inf2["FailureReason"]

        sm.stop_inference_recommendations_job(JobName="gpu")
        # The holder never lets go and the job may wait 300 s: STOPPED within the 30 s wait means the
        # stop ended the wait for the host, not the job's duration.
        job = _wait(sm, "gpu", {"STOPPED", "FAILED", "COMPLETED"}, 30)
        assert job["Status"] == "STOPPED"
        assert _steps(sm, "gpu")["ml.g4dn.xlarge"]["Status"] == "STOPPED"

        # A job whose JobDurationInSeconds passes while it waits fails, naming the holder.
        _create(sm, "too-late", arn, ["ml.c5.large"], duration_s=5)
        job = _wait(sm, "too-late", {"STOPPED", "FAILED", "COMPLETED"}, 60)
        assert job["Status"] == "FAILED"
        reason = _steps(sm, "too-late")["ml.c5.large"]["InferenceBenchmark"]["FailureReason"]
        assert "JobDurationInSeconds" in reason and "waiting for the host" in reason
        assert f"pid {holder.pid}" in reason and "other-job" in reason
        assert f"pid {holder.pid}" in job["FailureReason"]
        assert endpoint_processes(home) == []
    finally:
        srv.stop()


# ------------------------------------------------------------------------------------- detection

def test_detection_reads_device_nodes_and_nvidia_smi(tmp_path: Path) -> None:
    dev = tmp_path / "dev"
    dev.mkdir()
    assert detect(dev).devices == ()
    for n in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (dev / n).touch()
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf 'Tesla T4, 15360\\nTesla T4, 15360\\n'\n")
    smi.chmod(0o755)
    found = detect(dev, str(smi))
    assert [(d.vendor, d.name, d.memory_gib) for d in found.devices] == [("nvidia", "Tesla T4", 15.0)] * 2
    catalog = Catalog.default()
    assert accelerator_refusal(catalog.get("ml.g4dn.xlarge"), found) is None
    assert accelerator_refusal(catalog.get("ml.g4dn.xlarge"), found, 2) is None
    assert "only 2 × NVIDIA T4" in str(accelerator_refusal(catalog.get("ml.g4dn.12xlarge"), found))
    assert "not NVIDIA A10G" in str(accelerator_refusal(catalog.get("ml.g5.xlarge"), found))

    # Device nodes without nvidia-smi: present, but of unknown model, so not taken for a T4.
    unnamed = detect(dev, str(tmp_path / "missing-smi"))
    assert len(unnamed.devices) == 2 and unnamed.notes
    assert "cannot be read" in str(accelerator_refusal(catalog.get("ml.g4dn.xlarge"), unnamed))

    (dev / "neuron0").touch()
    dmi = tmp_path / "dmi"
    dmi.mkdir()
    (dmi / "product_name").write_text("inf2.xlarge\n")
    neuron = detect(dev, str(smi), dmi=dmi)
    assert accelerator_refusal(catalog.get("ml.inf2.xlarge"), neuron) is None
    assert "not AWS Inferentia," in str(accelerator_refusal(catalog.get("ml.inf1.xlarge"), neuron))


def test_declared_devices_and_the_default_candidates() -> None:
    declared = host_devices(Settings.from_env({"INFREC_HOST_DEVICES": T4}).host_devices)
    assert declared.source == "INFREC_HOST_DEVICES" and declared.of("nvidia")[0].name == "NVIDIA T4"
    assert host_devices(Settings.from_env({"INFREC_HOST_DEVICES": "{}"}).host_devices).devices == ()
    with pytest.raises(ValueError, match="INFREC_HOST_DEVICES"):
        Settings.from_env({"INFREC_HOST_DEVICES": "[1"})
    # A Default job with no candidates of its own picks infrec's defaults: never an accelerated type.
    catalog = Catalog.default()
    none = HostDevices()
    assert all(accelerator_refusal(catalog.get(t), none) is None for t in DEFAULT_INSTANCE_TYPES)
