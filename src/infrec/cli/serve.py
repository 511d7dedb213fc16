"""`infrec serve`: the SageMaker-compatible API server."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from pathlib import Path
from typing import Literal

import typer

from infrec.cli.errors import failed, usage
from infrec.config import ALLOW_COMMANDS_ENV, ALLOW_FILES_ENV, EXECUTORS, Settings


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(ipaddress.ip_address(info[4][0]).is_loopback
                       for info in socket.getaddrinfo(host, None))
        except OSError:
            return False


def allowed_host_names(host: str) -> list[str] | None:
    """The names a Host header may carry on this bind: on loopback, the loopback names and the bound
    name (a browser reaches the server only by those, so any other name is DNS rebinding); None on
    other binds, where the names clients use (DNS, a proxy) are the operator's and the Host check is
    left to them."""
    if not is_loopback(host):
        return None
    return sorted({"127.0.0.1", "localhost", "::1", host.strip("[]").lower()})


def served_file_roots(host: str, flags: list[Path] | None, from_env: tuple[Path, ...] | None
                      ) -> tuple[Path, ...] | None:
    """The folders a served API reads file:// URIs from: --allow-files, else INFREC_ALLOW_FILES, else
    the mode's default: None (the state folder and the current directory, Settings.file_roots) on a
    loopback bind, used by one person; no folder at all on any other bind, where a host folder is
    nobody's by default and S3 is how a team shares artifacts."""
    if flags:
        return tuple(p.expanduser().absolute() for p in flags)
    if from_env is not None:
        return from_env
    return None if is_loopback(host) else ()


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Address to bind; loopback unless --auth is given."),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
        auth: Path | None = typer.Option(None, "--auth", help="JSON file of access key id → secret; "
                                                               "requests must then be SigV4-signed with one."),
        allow_unauthenticated: bool = typer.Option(False, "--allow-unauthenticated",
                                                   help="Bind a non-loopback address without --auth."),
        allow_commands: bool = typer.Option(
            False, "--allow-commands",
            help=f"Let callers run programs on this host: a model's INFREC_COMMAND and non-built-in images "
                 f"(Docker). Off by default: anyone who can call the API would run code as this user "
                 f"(also {ALLOW_COMMANDS_ENV}=1)."),
        allow_files: list[Path] = typer.Option(
            None, "--allow-files", file_okay=False,
            help=f"A folder file:// URIs (ModelDataUrl, SamplePayloadUrl) may name; repeatable (also "
                 f"{ALLOW_FILES_ENV}=dir1:dir2). Default: the state folder and the current directory on a "
                 "loopback bind, no folder on any other."),
        executor: str | None = typer.Option(
            None, "--executor", help="Where endpoints run: local (this host, the default) or ray (the nodes "
                                     "of a Ray cluster; also INFREC_EXECUTOR). See docs/ray.md."),
        ray_address: str | None = typer.Option(
            None, "--ray-address", help="The Ray cluster with --executor ray: host:port, auto or ray://… "
                                        "(also INFREC_RAY_ADDRESS; default auto)."),
        log_level: str = typer.Option("warning", help="uvicorn log level."),
    ) -> None:
        """Serve SageMaker's API (AWS JSON 1.1) for boto3, the AWS CLI and the SageMaker SDK."""
        import uvicorn

        from infrec.api.app import create_app
        from infrec.api.auth import KeyStore
        from infrec.services import Services
        from infrec.store import StoreError

        if not is_loopback(host) and auth is None and not allow_unauthenticated:
            raise usage(f"refusing to bind {host} without --auth: anyone who can reach it could "
                        "register models and start jobs. Give --auth keys.json, or --allow-unauthenticated "
                        "if the network is trusted.")
        keys = None
        if auth is not None:
            try:
                keys = KeyStore.from_file(auth)
            except ValueError as exc:
                raise usage(str(exc)) from exc
        try:
            # Served, the default is no: INFREC_ALLOW_COMMANDS must say yes, or --allow-commands.
            settings = Settings.from_env(served=True)
        except ValueError as exc:
            raise usage(str(exc)) from exc
        commands = allow_commands or settings.allow_commands
        settings = dataclasses.replace(settings.confined(), allow_commands=commands,
                                       allow_files=served_file_roots(host, allow_files, settings.allow_files))
        if executor is not None or ray_address is not None:
            chosen = (executor or ("ray" if ray_address else settings.executor)).strip().lower()
            if chosen not in EXECUTORS:
                raise usage(f"--executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
            kind: Literal["local", "ray"] = "ray" if chosen == "ray" else "local"
            settings = dataclasses.replace(settings, executor=kind, ray_address=ray_address or settings.ray_address)
        try:
            services = Services(settings)
        except (StoreError, ValueError) as exc:
            raise failed(str(exc)) from exc
        try:
            try:
                services.executor()  # connect now: a wrong --ray-address fails here, not in the first job
            except RuntimeError as exc:
                raise failed(str(exc)) from exc
            services.start_hosting()
            resumed = services.start_jobs(resume=True).resumed
            if resumed:
                typer.echo(f"resuming {len(resumed)} job(s) left by a previous run: {', '.join(resumed)}", err=True)
            typer.echo(f"infrec API on http://{host}:{port} (state: {settings.home})", err=True)
            if settings.executor == "ray":
                typer.echo(f"endpoints run on the Ray cluster at {settings.ray_address or 'auto'}", err=True)
            if commands:
                typer.echo("commands allowed: callers may run programs on this host as this user "
                           "(--allow-commands)", err=True)
            folders = ", ".join(str(p) for p in settings.file_roots()) or "none (s3:// only)"
            typer.echo(f"file:// URIs allowed under: {folders}", err=True)
            app_ = create_app(services, keys, allowed_hosts=allowed_host_names(host), port=port,
                              on_shutdown=services.close)
            uvicorn.run(app_, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
        finally:
            services.close()
