"""The command line's conventions, as a user meets them through the real `infrec` script: one
`--output json|table|text` for whatever prints data, `infrec --version`, one error style (a single
line, exit 2 for a bad argument, nothing written), "did you mean" for misspelt names, and content
types read from the payload files. Nothing here runs a measurement: jobs are created with
--no-wait, embedded, so they wait for a process that never comes."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

import infrec
from tests.integration.jobs.conftest import job_env

EXE = str(Path(sys.executable).parent / "infrec")


def run(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **job_env(home), "COLUMNS": "200", **(env or {})}
    full.pop("INFREC_ENDPOINT_URL", None)
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, env=full)


def as_json(out: subprocess.CompletedProcess[str]) -> Any:
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


def archive(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A state folder holding one queued job (created with --no-wait, never run), and the example."""
    from infrec.examples import create_example

    root = tmp_path_factory.mktemp("conventions")
    example = root / "example"
    create_example(example)
    home = root / "home"
    out = run(home, "recommend", str(example / "model.tar.gz"), "--payload", str(example / "payload.tar.gz"),
              "--instance-types", "ml.c5.large,ml.m5.large", "--max-tests", "2", "--max-parallel", "1",
              "--vpc-subnets", "subnet-0a1b2c3d,subnet-4e5f6a7b", "--vpc-security-group-ids", "sg-0a1b2c3d",
              "--role-arn", "arn:aws:iam::123456789012:role/recommender", "--no-wait", "--job-name", "queued",
              "--output", "json")
    queued = as_json(out)
    return {"home": home, "example": example, "root": root, "job": queued}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_version() -> None:
    out = subprocess.run([EXE, "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"infrec {infrec.__version__}"


def test_no_wait_creates_a_default_job_with_vpc_and_resource_limit(state: dict[str, Any]) -> None:
    assert state["job"]["JobName"] == "queued" and state["job"]["Follow"] == "infrec jobs resume queued"
    job = as_json(run(state["home"], "jobs", "describe", "queued", "--output", "json"))["Job"]
    assert job["JobType"] == "Default" and job["Status"] == "PENDING"
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/recommender"
    assert job["InputConfig"]["VpcConfig"] == {"Subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"],
                                               "SecurityGroupIds": ["sg-0a1b2c3d"]}
    assert job["InputConfig"]["ResourceLimit"] == {"MaxNumberOfTests": 2, "MaxParallelOfTests": 1}
    assert job["InputConfig"]["ContainerConfig"]["SupportedInstanceTypes"] == ["ml.c5.large", "ml.m5.large"]


def test_every_command_that_prints_data_prints_json(state: dict[str, Any]) -> None:
    home, root = state["home"], state["root"]
    listed = as_json(run(home, "jobs", "list", "--output", "json"))
    assert [j["JobName"] for j in listed["InferenceRecommendationsJobs"]] == ["queued"]
    before = as_json(run(home, "--output", "json", "jobs", "list"))     # given before the command, as aws does
    assert before == listed
    steps = as_json(run(home, "jobs", "steps", "queued", "--output", "json"))["Steps"]
    assert [(s["EndpointConfiguration"]["InstanceType"], s["Status"]) for s in steps] == \
        [("ml.c5.large", "PENDING"), ("ml.m5.large", "PENDING")]
    assert as_json(run(home, "jobs", "export", "queued", "--format", "json"))["Job"]["JobName"] == "queued"
    assert as_json(run(home, "version", "--output", "json"))["Version"] == infrec.__version__
    assert as_json(run(home, "jobs", "clean", "--output", "json"))["Removed"] == []
    made = as_json(run(home, "example", "create", str(root / "again"), "--output", "json"))
    assert made["SupportedContentTypes"] == ["application/json", "text/csv"]
    catalog = as_json(run(home, "catalog", "list", "--family", "ml.c5", "--output", "json"))
    fits = {t["InstanceType"]: t["OnThisHost"] for t in catalog["InstanceTypes"]}
    assert fits["ml.c5.18xlarge"]["Verdict"] == "refused" and "vCPUs" in fits["ml.c5.18xlarge"]["Reason"]
    assert all(f["Verdict"] in ("native", "emulated", "refused") for f in fits.values())
    shown = as_json(run(home, "catalog", "show", "ml.g4dn.xlarge", "--output", "json",
                        env={"INFREC_HOST_DEVICES": "{}"}))
    assert shown["OnThisHost"]["Verdict"] == "refused" and "no NVIDIA GPU" in shown["OnThisHost"]["Reason"]
    idle = run(home, "jobs", "watch", "queued", "--output", "json")    # embedded, nothing runs it: said at once
    assert idle.returncode == 1 and "jobs resume queued" in idle.stderr and idle.stdout == ""
    text = run(home, "jobs", "list", "--output", "text")
    assert text.stdout.split("\t")[:3] == ["queued", "Default", "PENDING"]
    stopped = as_json(run(home, "jobs", "stop", "queued", "--output", "json"))
    assert stopped == {"JobName": "queued", "Stopping": True}


BAD_ARGUMENTS = [
    (["--instance-types", "ml.c5.largee"], {}, "--instance-types", "did you mean ml.c5.large"),
    (["--instance-types", "ml.c5.large", "--latency", "fast"], {}, "--latency", "P95:50ms"),
    (["--role-arn", "recommender"], {}, "--role-arn", "arn:aws:iam::"),
    (["--vpc-subnets", "subnet-0a1b2c3d"], {}, "--vpc-security-group-ids", "both"),
    (["--max-tests", "0"], {}, "--max-tests", "greater than or equal to 1"),
    (["--content-type", "json"], {}, "--content-type", "MIME type"),
    (["--job-name", "my_job"], {}, "--job-name", "letters, digits and hyphens"),
    (["--output", "yaml"], {}, "--output", "json"),
    ([], {"INFREC_REGION": "eu-west1"}, "INFREC_REGION", "did you mean eu-west-1"),
]


@pytest.mark.parametrize(("args", "env", "names", "says"), BAD_ARGUMENTS, ids=[b[2] + "/" + b[3] for b in BAD_ARGUMENTS])
def test_recommend_refuses_a_bad_argument_before_writing(state: dict[str, Any], args: list[str], env: dict[str, str],
                                                         names: str, says: str) -> None:
    home, ex = state["home"], state["example"]
    db = home / "infrec.db"
    before = sha(db)
    out = run(home, "recommend", str(ex / "model.tar.gz"), "--payload", str(ex / "payload.tar.gz"), "--no-wait", *args,
              env=env)
    assert out.returncode == 2, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0] and says in lines[0], out.stderr
    assert sha(db) == before                      # no model package, no job: the database is untouched


def test_other_writing_commands_refuse_bad_arguments(state: dict[str, Any]) -> None:
    home, root = state["home"], state["root"]
    db = home / "infrec.db"
    before = sha(db)
    refusals = [
        (["jobs", "stop", "not_a_name!"], "NAME"),
        (["jobs", "resume", "not_a_name!"], "NAME"),
        (["jobs", "clean", "--older-than-days", "-1"], "--older-than-days"),
        (["catalog", "refresh", "--region", "eu-west1", "--catalog", str(root / "cat.json")], "did you mean eu-west-1"),
        (["catalog", "list", "--region", "eu-west1"], "did you mean eu-west-1"),
        (["jobs", "list", "--status", "COMPLETE"], "did you mean COMPLETED"),
    ]
    for args, says in refusals:
        out = run(home, *args)
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and says in lines[0], (args, out.stderr)
    assert sha(db) == before and not (root / "cat.json").exists()


def _content_types(home: Path, job: str) -> list[str]:
    from infrec.config import Settings
    from infrec.services import Services

    services = Services(Settings.from_env({**os.environ, **job_env(home)}))
    try:
        arn = services.handler("DescribeInferenceRecommendationsJob")({"JobName": job})["InputConfig"][
            "ModelPackageVersionArn"]
        package = services.handler("DescribeModelPackage")({"ModelPackageName": arn})
        return list(package["InferenceSpecification"]["SupportedContentTypes"])
    finally:
        services.close()


def test_content_types_come_from_the_payload_files(state: dict[str, Any], tmp_path: Path) -> None:
    home, ex = tmp_path / "home", state["example"]
    model = str(ex / "model.tar.gz")
    # The example mixes .json and .csv bodies: each is declared by its extension.
    assert run(home, "recommend", model, "--payload", str(ex / "payload.tar.gz"), "--no-wait", "--job-name",
               "mixed").returncode == 0
    assert _content_types(home, "mixed") == ["application/json", "text/csv"]
    csv_only = archive(tmp_path / "csv.tar.gz", {"a.csv": b"5.1,3.5,1.4,0.2\n", "b.csv": b"6.2,2.9,4.3,1.3\n"})
    assert run(home, "recommend", model, "--payload", str(csv_only), "--no-wait", "--job-name", "csv").returncode == 0
    assert _content_types(home, "csv") == ["text/csv"]
    # Given: comma-separated as --instance-types is; a file whose extension disagrees is named.
    given = run(home, "recommend", model, "--payload", str(ex / "payload.tar.gz"), "--content-type", "text/csv",
                "--no-wait", "--job-name", "given")
    assert given.returncode == 0 and "will be sent as text/csv" in given.stderr and ".json" in given.stderr
    both = run(home, "recommend", model, "--payload", str(csv_only), "--content-type", "text/csv,application/json",
               "--no-wait", "--job-name", "both")
    assert both.returncode == 0 and _content_types(home, "both") == ["text/csv", "application/json"]
