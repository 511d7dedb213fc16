"""Host paths by URI: `file:///etc/shadow`, `file:///root` and `file:///proc/self/environ` used to be
accepted as ModelDataUrl/SamplePayloadUrl, and the errors told missing, unreadable and present apart
(an oracle for any path). Now file:// reaches only the folders the operator allows, and everything
else (outside, missing, through a link or `..`) gets one and the same answer."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infrec.artifacts.errors import ArtifactError
from infrec.artifacts.uri import FileAccess
from infrec.cli.serve import served_file_roots
from infrec.config import Settings
from tests.helpers import InfrecServer
from tests.security.conftest import api

EXE = str(Path(sys.executable).parent / "infrec")
SPEC = {"SupportedContentTypes": ["application/json"], "SupportedResponseMIMETypes": ["application/json"]}


@pytest.fixture(scope="module")
def files(allowed_dir: Path) -> dict[str, Path]:
    model = allowed_dir / "model.tar.gz"
    model.write_bytes(b"not really an archive; registration only checks it can be read")
    payload = allowed_dir / "payload.json"
    payload.write_text("{}")
    link = allowed_dir / "link-to-passwd"
    if not link.exists():
        link.symlink_to("/etc/passwd")
    return {"model": model, "payload": payload, "link": link}


def _probes(allowed_dir: Path, files: dict[str, Path]) -> list[str]:
    return ["file:///etc/shadow", "file:///etc/passwd", "file:///nonexistent/model.tar.gz", "file:///root",
            "file:///etc", "file:///proc/self/environ", f"file://{allowed_dir}/../../../etc/passwd",
            f"{files['link'].as_uri()}", f"file://{allowed_dir}/missing.tar.gz", "file://localhost/etc/hostname"]


def _register(server: InfrecServer, model_url: str, payload_url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    answer = api(server, "CreateModelPackage", {
        "ModelPackageGroupName": "files", "SamplePayloadUrl": payload_url,
        "InferenceSpecification": {"Containers": [{"Image": "infrec/synthetic", "ModelDataUrl": model_url}], **SPEC}})
    return answer.status, answer.json()


def test_host_paths_get_one_uniform_refusal(open_server: InfrecServer, allowed_dir: Path,
                                             files: dict[str, Path]) -> None:
    sm = open_server.client()
    sm.create_model_package_group(ModelPackageGroupName="files")
    good_model, good_payload = files["model"].as_uri(), files["payload"].as_uri()
    status, _ = _register(open_server, good_model, good_payload)
    assert status == 200  # inside the allowed folder: fine

    for field in ("model", "payload"):
        seen = set()
        for probe in _probes(allowed_dir, files):
            status, err = (_register(open_server, probe, good_payload) if field == "model"
                           else _register(open_server, good_model, probe))
            assert status == 400, (probe, err)
            assert err["__type"] == "ValidationException"
            assert "--allow-files" in err["message"] and "INFREC_ALLOW_FILES" in err["message"]
            seen.add(err["message"].replace(probe, "<uri>"))
        assert len(seen) == 1, seen  # no way to tell /etc/shadow from /nonexistent
    models = sm.create_model  # CreateModel's ModelDataUrl goes through the same check
    with pytest.raises(sm.exceptions.ClientError, match="--allow-files"):
        models(ModelName="shadow", ExecutionRoleArn="arn:aws:iam::000000000000:role/x",
               PrimaryContainer={"Image": "infrec/synthetic", "ModelDataUrl": "file:///etc/shadow"})


def test_every_reader_obeys_the_roots(tmp_path: Path) -> None:
    restricted = tmp_path / "root"
    restricted.mkdir()
    files = FileAccess(roots=(restricted,))
    (restricted / "ok.bin").write_bytes(b"ok")
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"secret")
    assert files.read_bytes(str(restricted / "ok.bin")) == b"ok"
    for reader in (files.read_bytes, files.size, files.check_readable,
                   lambda u: files.download(u, tmp_path / "dl"), lambda u: files.fetch_and_extract(u, tmp_path / "x")):
        for target in (str(outside), outside.as_uri(), str(tmp_path / "missing"), "/etc/passwd"):
            with pytest.raises(ArtifactError, match="not an existing file or folder under the folders"):
                reader(target)
    assert files.exists(str(outside)) is False and files.exists(str(restricted / "ok.bin")) is True


def test_default_roots_per_mode(tmp_path: Path) -> None:
    settings = Settings.from_env({"INFREC_HOME": str(tmp_path / "home")})
    assert settings.file_roots() == (tmp_path / "home", Path.cwd().absolute())
    # A program building the services itself reads any path; the CLI and the server confine them.
    assert settings.confine_files is False and settings.confined().confine_files is True
    from_env = Settings.from_env({"INFREC_HOME": str(tmp_path), "INFREC_ALLOW_FILES": "/srv/a:/srv/b"})
    env_roots = from_env.allow_files
    assert env_roots == (Path("/srv/a"), Path("/srv/b")) and from_env.confine_files is True
    # Served: flags win, then the environment; a shared bind has no folder by default.
    assert served_file_roots("0.0.0.0", None, None) == ()
    assert served_file_roots("10.1.2.3", [Path("/srv/models")], None) == (Path("/srv/models"),)
    assert served_file_roots("0.0.0.0", None, env_roots) == env_roots
    assert served_file_roots("127.0.0.1", None, None) is None  # = Settings.file_roots(): home and cwd


def test_embedded_cli_reads_only_home_and_cwd(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "payload.json").write_text("{}")
    env = {k: v for k, v in os.environ.items() if k not in ("INFREC_ALLOW_FILES", "INFREC_ENDPOINT_URL")}
    env["INFREC_HOME"] = str(tmp_path / "home")
    messages = set()
    for probe in ("file:///etc/passwd", "file:///nonexistent/model.tar.gz"):
        out = subprocess.run([EXE, "recommend", probe, "--payload", "payload.json", "--instance-types", "ml.c5.large"],
                             cwd=work, env=env, capture_output=True, text=True, timeout=120)
        text = out.stdout + out.stderr
        assert out.returncode != 0 and "not an existing file or folder under the folders" in text, text
        assert str(work) in text and str(tmp_path / "home") in text
        assert "Traceback" not in text
        messages.add(text.replace(probe, "<uri>"))
    assert len(messages) == 1, messages


def test_each_services_keeps_its_own_roots(tmp_path: Path) -> None:
    """The allowed folders belong to the services built with them, not to the process: a confined
    server and an unconfined program in one process do not change each other's rule."""
    from infrec.services import Services

    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    home = tmp_path / "home"
    confined = Services(Settings.from_env({"INFREC_HOME": str(home)}).confined())
    free = Services(Settings(home=tmp_path / "free", database_url=f"sqlite:///{tmp_path / 'free.db'}"))
    try:
        assert confined.registry.files is confined.files and confined.genai.files is confined.files
        assert confined.files.roots == (home, Path.cwd().absolute())
        with pytest.raises(ArtifactError, match="not an existing file or folder under the folders"):
            confined.files.check_readable(str(outside))
        free.files.check_readable(str(outside))  # a program building its own services reads any path
        with pytest.raises(ArtifactError, match="not an existing file or folder under the folders"):
            confined.files.check_readable(str(outside))
    finally:
        confined.close()
        free.close()
