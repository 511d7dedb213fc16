"""LocalExecutor with real endpoint processes: resources enforced, health reported, nothing leaked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from infrec.config import Settings
from infrec.core.catalog import Catalog, InstanceType
from infrec.executors.base import CapacityError, EndpointSpec, EndpointStartError, Executor
from infrec.executors.local import LocalExecutor, group_members
from tests.helpers import HostNoise
from tests.integration.executors.client import closed_loop
from tests.integration.executors.conftest import TrackedExecutor, leftovers
from tests.integration.serving import models

ONE_CPU = InstanceType(name="test.1cpu", vcpus=1.0, memory_gib=1.0, price_per_hour=0.1)
HALF_CPU = InstanceType(name="test.halfcpu", vcpus=0.5, memory_gib=0.5, price_per_hour=0.05)


def spec(itype: InstanceType = HALF_CPU, **kw) -> EndpointSpec:  # type: ignore[no-untyped-def]
    args = {"name": "t", "image": "infrec/synthetic", "model_dir": None, "environment": {},
            "instance_type": itype, "setup_deadline_s": 30.0, **kw}
    return EndpointSpec(**args)


def needs_cgroups(ex: LocalExecutor) -> None:
    if not ex.enforcement.startswith("cgroup"):
        pytest.skip(f"CPU quota test SKIPPED: cgroups not writable here (enforcement {ex.enforcement})")


def test_sklearn_endpoint_predicts_like_the_model(tmp_path: Path, executor: TrackedExecutor) -> None:
    model = models.sklearn_model(tmp_path / "model")
    x, _ = models.iris()
    h = executor.start(spec(image="infrec/sklearn", model_dir=tmp_path / "model", name="skl"))
    assert isinstance(executor, Executor)
    assert h.urls == [f"http://127.0.0.1:{h.instances[0].port}"] and h.setup_time_s > 0
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", h.instances[0].port, timeout=10)
    conn.request("POST", "/invocations", body="\n".join(",".join(map(str, r)) for r in x[:10]),
                 headers={"Content-Type": "text/csv"})
    assert json.loads(conn.getresponse().read()) == model.predict(x[:10]).tolist()
    conn.close()
    assert executor.health(h) is None
    executor.stop(h)
    assert leftovers(executor, h) == []


@pytest.mark.parametrize(("itype", "expected"), [(HALF_CPU, 50.0), (ONE_CPU, 100.0)])
def test_cpu_quota_caps_throughput(executor: TrackedExecutor, itype: InstanceType, expected: float) -> None:
    """10 ms of CPU per request: 0.5 vCPU serves ~50 requests/s and 1 vCPU ~100."""
    needs_cgroups(executor)
    h = executor.start(spec(itype, environment={"INFREC_SYNTHETIC_SERVICE_MS": "10"}, name="quota"))
    assert h.enforcement.startswith("cgroup")
    # The mechanism: the instance's group holds a CFS quota of its vCPUs, and the load hit it.
    quota, period = _cfs_quota(h.instances[0].cgroups)
    assert quota == pytest.approx(itype.vcpus * period, abs=1), (quota, period)
    throttled = _throttled(h.instances[0].cgroups)
    executor.usage(h)
    noise = HostNoise()
    rps, errors = closed_loop(h.urls[0], b"{}", "application/json", concurrency=4, duration_s=4.0)
    use = executor.usage(h)[0]
    assert errors == 0
    if itype.vcpus < len(h.instances[0].cpu_ids):
        # A quota below the CPUs the instance is pinned to binds, so a saturating load meets it. (With
        # a whole CPU pinned and a quota of that CPU, affinity alone already caps it: never throttled.)
        assert _throttled(h.instances[0].cgroups) > throttled, str(noise)
    # Above: CPU time per request is fixed, so the quota allows no more than `expected` (5 % for one
    # CFS period's burst at either edge of the 4 s). Below: the quota's time must be delivered, which a
    # shared host does not promise — its speed moves ±13–17 % from second to second — so the floor
    # is 0.85 × 0.83 ≈ 0.7 of `expected`.
    assert expected * 0.7 <= rps <= expected * 1.05, f"{rps:.1f} req/s, expected {expected}; {noise}"
    assert use.cpu_percent > 70, (use, str(noise))  # the instance was saturated
    assert 0 < use.memory_percent < 50 and use.rss_bytes > 0


def _cfs_quota(groups: list[str]) -> tuple[int, int]:
    """(quota, period) in µs of the instance's CPU group, cgroup v2 (cpu.max) or v1 (cpu.cfs_*)."""
    for g in map(Path, groups):
        if (g / "cpu.max").exists():
            quota, period = (g / "cpu.max").read_text().split()
            return int(quota), int(period)
        if (g / "cpu.cfs_quota_us").exists():
            return int((g / "cpu.cfs_quota_us").read_text()), int((g / "cpu.cfs_period_us").read_text())
    raise AssertionError(f"no CPU controller among {groups}")


def _throttled(groups: list[str]) -> int:
    """Periods in which the group used up its quota (cpu.stat nr_throttled, v1 and v2 alike)."""
    for g in map(Path, groups):
        if (g / "cpu.stat").exists():
            for line in (g / "cpu.stat").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "nr_throttled":
                    return int(value)
    raise AssertionError(f"no cpu.stat with nr_throttled among {groups}")


def test_memory_limit_kills_and_reports_oom(tmp_path: Path, executor: TrackedExecutor) -> None:
    needs_cgroups(executor)
    small = InstanceType(name="test.small", vcpus=0.5, memory_gib=0.25, price_per_hour=0.01)
    with pytest.raises(EndpointStartError, match=r"out of memory \(limit 256 MiB\)"):
        executor.start(spec(small, environment={"INFREC_SYNTHETIC_MEMORY_MB": "400"}, name="hog-at-load"))
    # A model that allocates past the limit while serving: the kernel kills it, health says so.
    models.python_handler_model(tmp_path / "m")
    h = executor.start(spec(InstanceType(name="test.m", vcpus=0.5, memory_gib=0.4, price_per_hour=0.01),
                            image="infrec/python", model_dir=tmp_path / "m", environment={"HOG_MB": "600"},
                            name="hog-at-request"))
    closed_loop(h.urls[0], b'{"features": [[1, 2, 3, 4]]}', "application/json", 1, 0.5, 0.0)
    end = time.monotonic() + 10
    while executor.health(h) is None and time.monotonic() < end:
        time.sleep(0.1)
    assert executor.health(h) == "out of memory (limit 410 MiB)"
    executor.stop(h)
    assert leftovers(executor, h) == []


def test_instances_stop_cleanly_and_pack_disjointly(executor: TrackedExecutor) -> None:
    h = executor.start(spec(HALF_CPU, instance_count=2, name="pair"))
    assert len(h.urls) == 2 and len(set(h.urls)) == 2
    pids = [inst.pid for inst in h.instances]
    assert all(psutil.pid_exists(p) for p in pids)
    for inst in h.instances:
        assert set(os.sched_getaffinity(inst.pid)) == set(inst.cpu_ids)
    assert len(executor.ledger.entries()) == 1
    executor.stop(h)
    assert leftovers(executor, h) == []
    executor.stop(h)  # twice is harmless


def test_never_healthy_and_crashing_endpoints_leave_nothing(executor: TrackedExecutor) -> None:
    with pytest.raises(EndpointStartError, match=r"within 1\.5s") as exc:
        executor.start(spec(environment={"INFREC_SYNTHETIC_LOAD_S": "60"}, setup_deadline_s=1.5, name="slow"))
    assert "ModelSetupTime" in str(exc.value)
    with pytest.raises(EndpointStartError, match="exited with code 4") as exc:
        executor.start(spec(command=[sys.executable, "-c", "import sys; print('bye'); sys.exit(4)"], name="crash"))
    assert "bye" in str(exc.value)
    assert executor.ledger.entries() == []
    assert [g for g in executor.infrec_cgroups() if "slow-" in g or "crash-" in g] == []
    assert not any(p.info["environ"] and p.info["environ"].get("INFREC_ENDPOINT", "").startswith(("slow-", "crash-"))
                   for p in psutil.process_iter(["environ"]) if p.pid != os.getpid())
    # The capacity it held is free again.
    h = executor.start(spec(ONE_CPU, name="after"))
    executor.stop(h)


def test_plain_command_line_server(tmp_path: Path, executor: TrackedExecutor) -> None:
    script = tmp_path / "server.py"
    script.write_text(textwrap.dedent("""
        import os
        from http.server import BaseHTTPRequestHandler, HTTPServer

        class H(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers()
            def do_POST(self):
                n = int(self.headers["Content-Length"]); self.rfile.read(n)
                body = os.environ["SM_MODEL_DIR"].encode()
                self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)

        HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), H).serve_forever()
    """))
    h = executor.start(spec(image="my/server", model_dir=tmp_path,
                            environment={"INFREC_COMMAND": f"{sys.executable} {script}"}, name="cmd"))
    import urllib.request

    assert urllib.request.urlopen(urllib.request.Request(h.urls[0] + "/invocations", data=b"x"),
                                  timeout=10).read() == str(tmp_path).encode()
    executor.stop(h)
    assert leftovers(executor, h) == []


def test_refusals_name_the_problem(executor: TrackedExecutor, catalog: Catalog) -> None:
    with pytest.raises(CapacityError) as exc:
        executor.start(spec(catalog.get("ml.c5.4xlarge"), name="big"))
    msg = str(exc.value)
    assert "ml.c5.4xlarge" in msg and "16 vCPUs" in msg and "this host gives endpoints" in msg
    assert "smaller instance type" in msg and "--oversubscribe" in msg and "multi-machine" in msg
    with pytest.raises(EndpointStartError, match="not a built-in infrec image"):
        executor.start(spec(image="infrec/tensorflow", name="x"))
    from infrec.executors.launch import docker_reachable

    if not docker_reachable():
        with pytest.raises(EndpointStartError, match=r"no Docker engine is reachable.*INFREC_COMMAND"):
            executor.start(spec(image="123.dkr.ecr.us-east-1.amazonaws.com/x:1", name="x"))
    assert executor.ledger.entries() == []


def test_affinity_enforcement_without_cgroups(tmp_path: Path) -> None:
    ex = LocalExecutor(tmp_path / "state", enforcement="affinity")
    h = ex.start(spec(ONE_CPU, name="aff"))
    try:
        assert h.enforcement == "affinity" and h.instances[0].cgroups == []
        assert set(os.sched_getaffinity(h.instances[0].pid)) == set(h.instances[0].cpu_ids)
        assert psutil.Process(h.instances[0].pid).environ()["OMP_NUM_THREADS"] == "1"
    finally:
        ex.stop(h)
    assert leftovers(ex, h) == []


CONTROL = """
import json, sys, time
from pathlib import Path
from infrec.core.catalog import InstanceType
from infrec.executors.base import EndpointSpec
from infrec.executors.local import LocalExecutor

ex = LocalExecutor(Path(sys.argv[1]))
it = InstanceType(name="test.halfcpu", vcpus=0.5, memory_gib=0.5, price_per_hour=0.05)
h = ex.start(EndpointSpec(name="orphan", image="infrec/synthetic", model_dir=None,
                          environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}, instance_type=it, instance_count=2))
print(json.dumps({"pgids": [i.pgid for i in h.instances], "cgroups": [g for i in h.instances for g in i.cgroups]}),
      flush=True)
time.sleep(120)
"""


def test_sigkill_of_the_control_process_then_reap(tmp_path: Path) -> None:
    state = tmp_path / "state"
    control = subprocess.Popen([sys.executable, "-c", CONTROL, str(state)], stdout=subprocess.PIPE,
                               start_new_session=True)
    try:
        assert control.stdout is not None
        line = control.stdout.readline()
        started = json.loads(line)
        os.kill(control.pid, signal.SIGKILL)
        control.wait(timeout=10)
        members = [p for g in started["pgids"] for p in group_members(g)]
        assert len(members) == 6  # the orphans live on: 2 instances × (master + 2 workers)
        reaper = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                 "from infrec.executors.local import LocalExecutor; "
                                 "print(LocalExecutor(Path(sys.argv[1])).reap_orphans())", str(state)],
                                capture_output=True, text=True, timeout=60)
        assert reaper.stdout.strip() == "2", reaper.stderr
        assert [p for g in started["pgids"] for p in group_members(g)] == []
        assert [g for g in started["cgroups"] if Path(g).exists()] == []
        assert list((state / "endpoints").glob("*.json")) == []
    finally:
        if control.poll() is None:
            control.kill()
            control.wait(timeout=10)
        if "started" in locals():
            for g in started["pgids"]:
                for p in group_members(g):
                    os.kill(p, signal.SIGKILL)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def test_each_gpu_instance_sees_only_its_own_gpus(tmp_path: Path, catalog: Catalog) -> None:
    # A host with two T4s (declared: this machine has none): an ml.g4dn.xlarge endpoint (one T4) sees
    # exactly one, a second one the other, a third is refused while both are held; a CPU type sees
    # none, so a model server on a GPU host never uses a GPU its instance type does not have.
    two_t4 = json.dumps({"nvidia": [{"name": "Tesla T4", "memory_gib": 15}, {"name": "Tesla T4", "memory_gib": 15}]})
    ex = TrackedExecutor(tmp_path / "state", oversubscribe=True,
                         devices=Settings.from_env({"INFREC_HOST_DEVICES": two_t4}).host_devices)
    ex.handles = []
    g4, c5 = catalog.get("ml.g4dn.xlarge"), catalog.get("ml.c5.large")
    try:
        first = ex.start(spec(g4, name="g1", image="infrec/llmsim", scale=0.05))
        second = ex.start(spec(g4, name="g2", image="infrec/llmsim", scale=0.05))
        seen = [_environ(h.instances[0].pid)["CUDA_VISIBLE_DEVICES"] for h in (first, second)]
        assert sorted(seen) == ["0", "1"] and [h.instances[0].gpus for h in (first, second)] == [[0], [1]]
        assert _environ(first.instances[0].pid)["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
        with pytest.raises(CapacityError, match=r"1 × ml.g4dn.xlarge needs 1 × NVIDIA T4; this host has 2 \(2 held"):
            ex.start(spec(g4, name="g3", image="infrec/llmsim", scale=0.05))
        cpu = ex.start(spec(c5, name="c", image="infrec/llmsim", scale=0.05))
        assert _environ(cpu.instances[0].pid)["CUDA_VISIBLE_DEVICES"] == ""
        ex.stop(first)                       # its GPU is free again, for the next endpoint that needs one
        third = ex.start(spec(g4, name="g3", image="infrec/llmsim", scale=0.05))
        assert _environ(third.instances[0].pid)["CUDA_VISIBLE_DEVICES"] == "0"
    finally:
        for h in ex.handles:
            ex.stop(h)
        ex.reap_orphans()
