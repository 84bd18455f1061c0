"""Tools that `tool` nodes call: a registry of Python callables with JSON-schema arguments,
filled the same way by the CLI, the Python façade and the HTTP service (`load_tools`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from executor.tools.registry import ENTRY_POINT_GROUP, Tool, ToolError, ToolRegistry, ToolTimeout


def load_tools(files: Iterable[str | Path] = (), allow_http: Iterable[str] = ()) -> ToolRegistry:
    """The built-in tools (`http_get` only for the `allow_http` hosts), those installed
    packages publish under the `flowc.tools` entry points, and those of each file's `TOOLS`."""
    hosts = list(allow_http)
    registry = ToolRegistry.with_builtins(allow_http=bool(hosts), hosts=hosts)
    registry.load_entry_points()
    for path in files:
        registry.load_module(path)
    return registry


__all__ = [
    "ENTRY_POINT_GROUP",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "ToolTimeout",
    "load_tools",
]
