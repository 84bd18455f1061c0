"""The service's settings: command-line options and environment variables, one record."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path


def data_dir() -> Path:
    """The folder for flowc's own files: FLOWC_DATA_DIR, else the user's data folder."""
    if os.environ.get("FLOWC_DATA_DIR"):
        return Path(os.environ["FLOWC_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "flowc"


def default_examples_dir() -> Path:
    """The repository's examples/graphs, beside the packages in a source checkout."""
    return Path(__file__).resolve().parents[1] / "examples" / "graphs"


def default_database_url() -> str:
    return f"sqlite:///{data_dir() / 'flowc.db'}"


@dataclass
class Settings:
    """Limits without a command-line option are read from FLOWC_<NAME> variables, e.g.
    FLOWC_MAX_RUN_TOKENS."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "default"  # "default" | HF folder | .gguf file | "dummy:<shape>"
    tokenizer: str | None = None  # a tokenizer folder for a dummy:<shape> model
    database_url: str = field(default_factory=default_database_url)
    api_key: str | None = None  # bearer token on every route but /health; None: no auth
    cors_origins: list[str] = field(default_factory=list)
    max_concurrent_runs: int = 16  # runs plus completion requests in flight; more get 429
    retry_after_s: int = 2
    tools: list[str] = field(default_factory=list)  # python files registering extra tools
    allow_http: list[str] = field(default_factory=list)  # hosts http_get may reach; none: off
    max_body_bytes: int = 2 * 1024 * 1024
    max_graph_nodes: int = 500  # nodes, map bodies included
    max_run_tokens: int = 100_000  # tokens a run may generate, whatever its graph says
    max_run_seconds: float = 600.0
    default_completion_tokens: int = 512  # when a chat request gives no max_tokens
    max_completion_tokens: int = 4096  # the most max_tokens an OpenAI request may ask
    max_n: int = 16
    examples_dir: Path = field(default_factory=default_examples_dir)  # the editor's menu
    server_name: str = ""  # names this server in the store's leases; host:port if unset
    lease_s: float = 30.0  # runs of a server silent this long are marked interrupted
    read_timeout_s: float = 30.0  # for a request's headers, and then for its body
    shutdown_grace_s: float = 30.0  # work in flight may finish by itself this long on SIGTERM
    strict_tools: bool = False  # a graph naming a tool this server lacks is a 422, not a warning
    replicas: int = 0  # engine replicas on Ray; 0: one engine in this process
    ray_address: str | None = None  # the Ray cluster of the replicas; None: a local Ray

    def __post_init__(self) -> None:
        if not self.server_name:
            self.server_name = f"{socket.gethostname()}:{self.port}"

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from FLOWC_* environment variables, then `overrides` (unset ones skipped)."""
        env = os.environ
        values: dict[str, object] = {}
        if env.get("FLOWC_SERVER_NAME"):
            values["server_name"] = env["FLOWC_SERVER_NAME"]
        if env.get("FLOWC_MODEL"):
            values["model"] = env["FLOWC_MODEL"]
        if env.get("FLOWC_TOKENIZER"):
            values["tokenizer"] = env["FLOWC_TOKENIZER"]
        if env.get("FLOWC_DATABASE_URL"):
            values["database_url"] = env["FLOWC_DATABASE_URL"]
        if env.get("FLOWC_API_KEY"):
            values["api_key"] = env["FLOWC_API_KEY"]
        if env.get("FLOWC_CORS_ORIGINS"):
            values["cors_origins"] = env["FLOWC_CORS_ORIGINS"].split(",")
        if env.get("FLOWC_MAX_CONCURRENT_RUNS"):
            values["max_concurrent_runs"] = int(env["FLOWC_MAX_CONCURRENT_RUNS"])
        if env.get("FLOWC_EXAMPLES_DIR"):
            values["examples_dir"] = Path(env["FLOWC_EXAMPLES_DIR"])
        if env.get("FLOWC_STRICT_TOOLS"):
            values["strict_tools"] = env["FLOWC_STRICT_TOOLS"].lower() in ("1", "true", "yes")
        if env.get("FLOWC_ALLOW_HTTP"):
            values["allow_http"] = env["FLOWC_ALLOW_HTTP"].split(",")
        if env.get("FLOWC_TOOLS"):
            values["tools"] = env["FLOWC_TOOLS"].split(os.pathsep)
        for name, kind in LIMIT_VARIABLES.items():
            if env.get(f"FLOWC_{name.upper()}"):
                values[name] = kind(env[f"FLOWC_{name.upper()}"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


LIMIT_VARIABLES: dict[str, type] = {
    "max_body_bytes": int, "max_graph_nodes": int, "max_run_tokens": int,
    "max_run_seconds": float, "max_completion_tokens": int, "default_completion_tokens": int,
    "max_n": int, "retry_after_s": int, "read_timeout_s": float, "shutdown_grace_s": float,
    "lease_s": float,
}
