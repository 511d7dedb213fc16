"""The Ray executor on a real Ray cluster of this host (executors.raylocal), bound to loopback.

One cluster for the module: a head offering `infrec:loadgen` (the driver, this process, connects
to it), a worker `w1` offering `infrec:test.one` and a worker `victim` offering `infrec:test.victim`,
which the last test kills. Every node, actor, sentinel and endpoint is checked gone at the end.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrec.core.catalog import InstanceType
from infrec.core.emulation import EmulationError
from infrec.executors.base import EndpointSpec, EndpointStartError
from infrec.executors.local import group_members
from infrec.executors.raylocal import LocalRayCluster
from tests.integration.jobs.conftest import make_payload_archive

ray = pytest.importorskip("ray", reason="ray is part of the test extras: pip install -e '.[test]'")
pytestmark = pytest.mark.timeout(240)

ONE = InstanceType("test.one", 1.0, 1.0, 0.05)
VICTIM = InstanceType("test.victim", 1.0, 1.0, 0.05)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRayCluster]:
    root = tmp_path_factory.mktemp("ray")
    cl = LocalRayCluster(root)
    try:
        cl.start_head(num_cpus=1, resources={"infrec:loadgen": 1})
        cl.add_node("w1", num_cpus=1, resources={"infrec:test.one": 1})
        cl.add_node("victim", num_cpus=1, resources={"infrec:test.victim": 1})
        yield cl
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cl.stop()
        left = cl.leftovers()
        assert not left, f"processes of the Ray cluster left running: {left}"
        assert not list((cl.state_dir / "endpoints").glob("*.json")), "ledger entries left on the nodes"


@pytest.fixture(scope="module")
def executor(cluster: LocalRayCluster) -> Any:
    from infrec.executors.ray import RayExecutor

    ex = RayExecutor(cluster.address, allow_commands=True)
    end = time.monotonic() + 30
    while len(ex.nodes(max_age_s=0)) < 3:
        assert time.monotonic() < end, "the cluster's three nodes did not all join"
        time.sleep(0.2)
    return ex


def node_offering(ex: Any, resource: str) -> str:
    return next(n["NodeID"] for n in ex.nodes(max_age_s=0) if (n.get("Resources") or {}).get(resource))


def spec(itype: InstanceType, name: str, **kw: Any) -> EndpointSpec:
    env = {"INFREC_SYNTHETIC_SERVICE_MS": "5", **kw.pop("environment", {})}
    return EndpointSpec(name=name, image="infrec/synthetic", model_dir=None, environment=env, instance_type=itype,
                        setup_deadline_s=60.0, **kw)


def ledger(cluster: LocalRayCluster) -> list[Path]:
    return sorted((cluster.state_dir / "endpoints").glob("*.json"))


def wait_until(cond: Any, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < end, f"timed out after {timeout_s:g} s waiting for {what}"
        time.sleep(0.2)


def test_placement_by_resource(cluster: LocalRayCluster, executor: Any) -> None:
    """An endpoint of test.one runs natively on the node offering infrec:test.one, answers on loopback
    from here, reports usage, and stopping it ends its actor and its processes."""
    w1 = node_offering(executor, "infrec:test.one")
    assert executor.capacity_for(ONE)[0] == 1.0
    # The generator keeps off the CPU the same-host node gives its endpoints (the last one).
    own = sorted(os.sched_getaffinity(0))
    assert executor.loadgen_cpus() == (own[:-1] if len(own) > 1 else own)
    h = executor.start(spec(ONE, "place"))
    try:
        assert h.node == {"Id": w1, "Address": "127.0.0.1"}
        assert h.urls[0].startswith("http://127.0.0.1:")
        from infrec.executors.local import _ping

        assert _ping(h.urls[0]) == 200
        assert executor.health(h) is None
        assert len(executor.usage(h)) == 1
        assert len(executor.running_actors()) == 1
        pgid = h.instances[0].pgid
        assert group_members(pgid)
    finally:
        executor.stop(h)
    # What stopping must achieve, each awaited with a deadline (a hung stop meets the module's timeout).
    wait_until(lambda: not executor.running_actors(), 10, "the actor to end")
    wait_until(lambda: not group_members(pgid), 10, "the endpoint's processes to end")
    wait_until(lambda: not ledger(cluster), 10, "the node's ledger to empty")


def test_missing_type_fails_at_once_naming_the_resource(executor: Any) -> None:
    nope = InstanceType("test.nope", 1.0, 1.0, 0.05)
    with pytest.raises(EmulationError, match=r"infrec:test\.nope"):
        executor.capacity_for(nope)
    with pytest.raises(EndpointStartError, match=r"ray start --address <head> --resources '\{\"infrec:test\.nope\""):
        executor.start(spec(nope, "nope"))
    # At once means before anything was placed: no actor waits for the resource, no endpoint was started.
    assert not executor.running_actors()
    assert not [a for a in ray.util.list_named_actors(all_namespaces=True)
                if str(a.get("name", "")).startswith("infrec-")]


def test_stop_during_start_ends_the_actor_and_its_processes(cluster: LocalRayCluster, executor: Any) -> None:
    """A job stopping while its endpoint starts (a server that never answers /ping): the start ends
    within a second, the actor is killed and the sentinel ends the server it left."""
    cancel = threading.Event()
    never = spec(ONE, "never", environment={"INFREC_COMMAND": "sleep 120"})
    errors: list[BaseException] = []

    def run() -> None:
        try:
            executor.start(never, cancel=cancel)
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    wait_until(lambda: bool(ledger(cluster)), 30, "the endpoint to be started on its node")
    cancel.set()
    # The server never answers and its setup deadline is 60 s: a start that ends within the join's
    # 10 s ended because of the cancel, which its error names below.
    t.join(timeout=10)
    assert not t.is_alive()
    assert errors and isinstance(errors[0], EndpointStartError) and "cancelled" in str(errors[0])
    wait_until(lambda: not executor.running_actors(), 10, "the actor to end")
    wait_until(lambda: not ledger(cluster), 10, "the sentinel to reap the server")


def test_job_on_ray_placement_missing_type_and_lost_node(cluster: LocalRayCluster, executor: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole job through the services with the Ray executor: test.one runs on w1 (the step says
    which node), test.nope fails at once naming the resource, and test.victim's node is killed mid-step:
    that step fails naming the node, and the job goes on to COMPLETED."""
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"instance_types": [
        {"name": t, "vcpus": 1, "memory_gib": 1, "price_per_hour": 0.05} for t in ("test.one", "test.victim",
                                                                                 "test.nope")]}))
    home = tmp_path / "home"
    for k, v in {"INFREC_HOME": str(home), "INFREC_CATALOG": str(catalog), "INFREC_HOST_LOCK": str(tmp_path / "lock"),
                 "INFREC_EXECUTOR": "ray", "INFREC_RAY_ADDRESS": cluster.address}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("INFREC_DATABASE_URL", raising=False)
    from infrec.config import Settings
    from infrec.services import Services

    services = Services(Settings.from_env())
    services._executor = executor  # the module's connection (one Ray driver per process)
    services.start_jobs(resume=False)
    w1 = node_offering(executor, "infrec:test.one")
    victim = node_offering(executor, "infrec:test.victim")
    try:
        services.registry.create_model_package_group({"ModelPackageGroupName": "ray"})
        arn = services.registry.create_model_package({
            "ModelPackageGroupName": "ray",
            "InferenceSpecification": {"Containers": [{"Image": "infrec/synthetic", "Environment": {
                "INFREC_SYNTHETIC_SERVICE_MS": "5"}}], "SupportedContentTypes": ["application/json"]},
            "SamplePayloadUrl": make_payload_archive(tmp_path).as_uri()})["ModelPackageArn"]
        services.jobs.create_inference_recommendations_job({
            "JobName": "onray", "JobType": "Advanced", "RoleArn": "arn:aws:iam::000000000000:role/test",
            "InputConfig": {"ModelPackageVersionArn": arn, "JobDurationInSeconds": 600,
                            "ResourceLimit": {"MaxNumberOfTests": 3, "MaxParallelOfTests": 2},
                            "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                                {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 12}]},
                            "EndpointConfigurations": [{"InstanceType": t} for t in
                                                       ("test.one", "test.victim", "test.nope")]}})

        def steps() -> list[dict[str, Any]]:
            return list(services.jobs.job_details("onray")["Steps"])

        def victim_running() -> bool:
            s = next(s for s in steps() if s["EndpointConfiguration"]["InstanceType"] == "test.victim")
            return s["Status"] == "IN_PROGRESS" and bool(s.get("Progress"))  # under load: the endpoint is up

        wait_until(victim_running, 60, "the test.victim step to be under load")
        node = next(n for n in cluster.nodes if n.name == "victim")
        cluster.kill_node(node)
        wait_until(lambda: services.jobs.describe_inference_recommendations_job({"JobName": "onray"})["Status"]
                   in ("COMPLETED", "FAILED", "STOPPED"), 90, "the job to end")
        job = services.jobs.describe_inference_recommendations_job({"JobName": "onray"})
        by_type = {s["EndpointConfiguration"]["InstanceType"]: s for s in steps()}
        reasons = {t: s.get("FailureReason") for t, s in by_type.items()}
        assert job["Status"] == "COMPLETED", (job, reasons)
        assert by_type["test.one"]["Status"] == "COMPLETED", reasons
        assert by_type["test.one"]["Details"]["Node"] == {"Id": w1, "Address": "127.0.0.1"}
        assert by_type["test.one"]["EmulationScale"] == 1.0
        assert by_type["test.victim"]["Status"] == "FAILED"
        assert victim in reasons["test.victim"] and "lost" in reasons["test.victim"]
        assert by_type["test.nope"]["Status"] == "FAILED"
        assert "infrec:test.nope" in reasons["test.nope"]
        # `infrec jobs describe` shows the node each step ran on.
        from rich.console import Console

        from infrec.cli.jobs import nodes_table

        out = Console(record=True, width=250)
        out.print(nodes_table(steps()))
        text = out.export_text()
        assert w1 in text and victim in text
    finally:
        services.close()
    wait_until(lambda: not executor.running_actors(), 15, "the job's actors to end")
    wait_until(lambda: not ledger(cluster), 15, "the sentinels to reap the endpoints, the lost node's too")


def test_serve_with_the_ray_executor_from_its_settings(cluster: LocalRayCluster, executor: Any,
                                                      tmp_path: Path) -> None:
    """The public way to the Ray executor: `infrec serve` with INFREC_EXECUTOR=ray and
    INFREC_RAY_ADDRESS, a job through boto3: test.one runs on w1 (as `infrec jobs describe` shows)
    and test.nope fails naming the resource — neither of which the local executor would do."""
    import subprocess
    import sys

    from tests.helpers import InfrecServer
    from tests.integration.jobs.test_jobs_boto3 import _wait as wait_job

    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"instance_types": [
        {"name": t, "vcpus": 1, "memory_gib": 1, "price_per_hour": 0.05} for t in ("test.one", "test.nope")]}))
    home = tmp_path / "home"
    env = {"INFREC_HOME": str(home), "INFREC_CATALOG": str(catalog), "INFREC_HOST_LOCK": str(tmp_path / "lock"),
           "INFREC_EXECUTOR": "ray", "INFREC_RAY_ADDRESS": cluster.address, "INFREC_TRIAL_SECONDS": "1",
           "INFREC_HOLD_SECONDS": "2", "INFREC_WARMUP_SECONDS": "0"}
    srv = InfrecServer(env)
    try:
        sm = srv.client()
        sm.create_model_package_group(ModelPackageGroupName="ray")
        arn = sm.create_model_package(
            ModelPackageGroupName="ray",
            InferenceSpecification={"Containers": [{"Image": "infrec/synthetic", "Environment": {
                "INFREC_SYNTHETIC_SERVICE_MS": "5"}}], "SupportedContentTypes": ["application/json"]},
            SamplePayloadUrl=make_payload_archive(tmp_path).as_uri())["ModelPackageArn"]
        sm.create_inference_recommendations_job(
            JobName="served-on-ray", JobType="Advanced", RoleArn="arn:aws:iam::000000000000:role/test",
            InputConfig={"ModelPackageVersionArn": arn, "JobDurationInSeconds": 300,
                         "TrafficPattern": {"TrafficType": "PHASES", "Phases": [
                             {"InitialNumberOfUsers": 1, "SpawnRate": 1, "DurationInSeconds": 3}]},
                         "EndpointConfigurations": [{"InstanceType": "test.one"}, {"InstanceType": "test.nope"}]})
        job = wait_job(sm, "served-on-ray", {"COMPLETED", "FAILED"}, 120)
        steps = sm.list_inference_recommendations_job_steps(JobName="served-on-ray")["Steps"]
        by_type = {s["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"]: s for s in steps}
        assert job["Status"] == "COMPLETED", (job.get("FailureReason"), steps)
        assert by_type["test.one"]["Status"] == "COMPLETED", steps
        assert by_type["test.nope"]["Status"] == "FAILED"
        assert "infrec:test.nope" in by_type["test.nope"]["InferenceBenchmark"]["FailureReason"], steps
    finally:
        srv.stop()
    exe = Path(sys.executable).parent / "infrec"
    out = subprocess.run([str(exe), "jobs", "describe", "served-on-ray"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, **env, "COLUMNS": "250"})
    assert node_offering(executor, "infrec:test.one") in out.stdout, out.stdout + out.stderr
    wait_until(lambda: not ledger(cluster), 15, "the sentinels to reap the endpoints")


DRIVER = """
import sys, time
from infrec.core.catalog import InstanceType
from infrec.executors.base import EndpointSpec
from infrec.executors.ray import RayExecutor

ex = RayExecutor(sys.argv[1])
h = ex.start(EndpointSpec(name="orphan", image="infrec/synthetic", model_dir=None, environment={},
                          instance_type=InstanceType("test.one", 1.0, 1.0, 0.05)))
print(h.instances[0].pgid, flush=True)
time.sleep(300)
"""


def test_restarted_driver_reaps_what_a_killed_one_left(cluster: LocalRayCluster, executor: Any,
                                                       tmp_path: Path) -> None:
    """An `infrec serve` killed with an endpoint running on a node: its actor dies with it, and a new
    driver's reap_orphans (what `infrec serve` runs at start) leaves nothing of it on the nodes."""
    import select
    import signal
    import subprocess
    import sys

    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    proc = subprocess.Popen([sys.executable, str(script), cluster.address], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "the first driver did not start its endpoint within 60 s"
        pgid = int(proc.stdout.readline())
        assert group_members(pgid) and ledger(cluster)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    executor.reap_orphans()
    wait_until(lambda: not group_members(pgid), 20, "the killed driver's endpoint to end")
    wait_until(lambda: not ledger(cluster), 20, "the nodes' ledgers to empty")
    wait_until(lambda: not [a for a in ray.util.list_named_actors(all_namespaces=True)
                            if str(a.get("name", "")).startswith("infrec-")], 20, "its actor to end")
