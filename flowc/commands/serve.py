"""`flowc serve`: the HTTP service (graphs, compile, runs, OpenAI-compatible endpoints)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    model: Annotated[str, typer.Option(
        help="'default' (the embedded model), a model folder or .gguf file, or dummy:SHAPE",
    )] = "default",
    tokenizer: Annotated[Path | None, typer.Option(
        help="A tokenizer folder for a dummy:SHAPE model (see `flowc export-tokenizer`)")
    ] = None,
    database_url: Annotated[str | None, typer.Option(
        help="SQLAlchemy URL of the store [default: SQLite under FLOWC_DATA_DIR or "
             "~/.local/share/flowc]; a postgresql:// URL lets several servers share one")] = None,
    api_key: Annotated[str | None, typer.Option(
        envvar="FLOWC_API_KEY", show_envvar=True,
        help="Require 'Authorization: Bearer KEY' on every route but /health")] = None,
    cors_origin: Annotated[list[str] | None, typer.Option(
        help="Allow browser requests from this origin (repeat for several); none by default",
    )] = None,
    max_concurrent_runs: Annotated[int, typer.Option(
        min=1, help="Runs and completion requests in flight; more are answered 429")] = 16,
    tools: Annotated[list[str] | None, typer.Option(
        help="A Python file registering extra tools (repeat for several)")] = None,
    allow_http: Annotated[list[str] | None, typer.Option(
        help="Enable the http_get tool for this host and its subdomains (repeat for "
             "several); off by default")] = None,
    strict_tools: Annotated[bool, typer.Option(
        "--strict-tools", help="Refuse (422) a graph naming a tool this server does not have; "
                               "by default the upload answers a warning")] = False,
    shutdown_grace: Annotated[float | None, typer.Option(
        min=0, help="Seconds work in flight may go on after SIGTERM before it is stopped, "
                    "each stream ending with its final event (default 30)")] = None,
    read_timeout: Annotated[float | None, typer.Option(
        min=0.1, help="Seconds a request's headers, then its body, may take to arrive "
                      "(default 30)")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    replicas: Annotated[int | None, typer.Option(
        min=1, help="Serve through this many engine replicas on Ray (one per GPU, or per CPU "
                    "slot); needs flowc[cluster]")] = None,
    ray_address: Annotated[str | None, typer.Option(
        help="The Ray cluster to join with --replicas [default: start a local Ray]")] = None,
) -> None:
    """Serve flowc over HTTP: graph upload, compile, runs with streamed events, and
    OpenAI-compatible /v1/chat/completions, /v1/completions and /v1/models."""
    if model != "default" and not model.startswith("dummy:") and not Path(model).exists():
        raise typer.BadParameter(f"no such model folder or file: {model}", param_hint="--model")
    if tokenizer is not None and not model.startswith("dummy:"):
        raise typer.BadParameter("goes with a dummy:SHAPE model only", param_hint="--tokenizer")
    if tokenizer is not None and not tokenizer.is_dir():
        raise typer.BadParameter(f"no such folder: {tokenizer}", param_hint="--tokenizer")
    for path in tools or []:
        if not Path(path).is_file():
            raise typer.BadParameter(f"no such file: {path}", param_hint="--tools")
    if ray_address is not None and replicas is None:
        raise typer.BadParameter("goes with --replicas N", param_hint="--ray-address")
    if replicas is not None:
        _check_ray()
    from web.server import serve as serve_http
    from web.settings import Settings

    settings = Settings.from_env(
        host=host, port=port, model=model,
        tokenizer=str(tokenizer) if tokenizer is not None else None,
        database_url=database_url, api_key=api_key,
        cors_origins=cors_origin or None, max_concurrent_runs=max_concurrent_runs,
        tools=[str(Path(p).resolve()) for p in tools] if tools else None,
        allow_http=allow_http or None,
        strict_tools=strict_tools or None, replicas=replicas, ray_address=ray_address,
        shutdown_grace_s=shutdown_grace, read_timeout_s=read_timeout)
    listening = bind(host, port)  # before the app starts: a busy port touches no run
    serve_http(settings, log_level, listening)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, or a clear error when the address is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {exc.strerror}",
                                 param_hint="--port") from None
    sock.set_inheritable(True)
    return sock


def _check_ray() -> None:
    from cluster import ray_installed

    if not ray_installed():
        raise typer.BadParameter("replicas need Ray: pip install 'flowc[cluster]'",
                                 param_hint="--replicas")
