"""Tools a workflow's `tool` nodes call: Python callables with a JSON schema for their
arguments.

A registry maps names to `Tool`s. Arguments are validated against the tool's schema before
the call; sync callables run in a worker thread, async ones on the loop; every call has a
timeout. Tools come from the built-ins (`with_builtins`), from installed packages (entry point
group `flowc.tools`) or from a Python file whose module-level `TOOLS` maps names to
`(callable, json_schema)` pairs (`load_module`).
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

ENTRY_POINT_GROUP = "flowc.tools"
ANY_OBJECT: dict[str, Any] = {"type": "object"}


class ToolError(RuntimeError):
    """A tool could not be found, its arguments were invalid, or it raised."""

    def __init__(self, tool: str, message: str) -> None:
        super().__init__(f"tool '{tool}': {message}")
        self.tool = tool


class ToolTimeout(ToolError):
    """A tool call ran past its timeout."""


@dataclass(frozen=True)
class Tool:
    name: str
    fn: Callable[..., Any]
    schema: dict[str, Any] = field(default_factory=lambda: dict(ANY_OBJECT))
    description: str = ""

    @property
    def is_async(self) -> bool:
        call = type(self.fn).__call__ if not inspect.isroutine(self.fn) else None
        return inspect.iscoroutinefunction(self.fn) or inspect.iscoroutinefunction(call)


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(
        self, name: str, fn: Callable[..., Any], schema: Mapping[str, Any] | None = None
    ) -> None:
        if not callable(fn):
            raise ToolError(name, f"is not callable ({type(fn).__name__})")
        schema = dict(schema if schema is not None else ANY_OBJECT)
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ToolError(name, f"invalid argument schema: {exc.message}") from exc
        description = schema.get("description") or (inspect.getdoc(fn) or "").split("\n")[0]
        self._tools[name] = Tool(name, fn, schema, description)

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none"
            raise ToolError(name, f"unknown tool (registered: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def names(self) -> list[str]:
        return sorted(self._tools)

    def validate(self, name: str, args: Mapping[str, Any]) -> None:
        tool = self.get(name)
        validator = jsonschema.validators.validator_for(tool.schema)(tool.schema)
        errors = sorted(validator.iter_errors(dict(args)), key=lambda e: list(e.path))
        if errors:
            detail = "; ".join(_describe(e) for e in errors)
            raise ToolError(name, f"invalid arguments: {detail}")

    async def call(self, name: str, args: Mapping[str, Any], timeout_s: float = 30.0) -> Any:
        """Validate `args`, call the tool with them as keyword arguments, bounded by
        `timeout_s`. A sync tool still running at its timeout is abandoned in its thread."""
        tool = self.get(name)
        self.validate(name, args)
        kwargs = dict(args)
        try:
            if tool.is_async:
                return await asyncio.wait_for(tool.fn(**kwargs), timeout_s)
            return await asyncio.wait_for(asyncio.to_thread(tool.fn, **kwargs), timeout_s)
        except TimeoutError:
            raise ToolTimeout(name, f"timed out after {timeout_s:g} s") from None
        except ToolError:
            raise
        except Exception as exc:  # a tool's own failure, reported with its name
            raise ToolError(name, f"{type(exc).__name__}: {exc}") from exc

    @classmethod
    def with_builtins(cls, allow_http: bool = False, hosts: Iterable[str] = ()) -> ToolRegistry:
        from executor.tools.builtin import builtin_tools

        registry = cls()
        for name, (fn, schema) in builtin_tools(allow_http=allow_http, hosts=hosts).items():
            registry.register(name, fn, schema)
        return registry

    def load_module(self, path: str | Path) -> list[str]:
        """Register the tools of the Python file at `path` (its module-level `TOOLS`)."""
        file = Path(path)
        if not file.is_file():
            raise ToolError(str(path), "tools file not found")
        module_name = f"flowc_tools_{file.stem}_{abs(hash(file.resolve())) % 10**8}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ToolError(str(path), "not a Python module")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(module_name, None)
            raise ToolError(str(path), f"cannot import: {type(exc).__name__}: {exc}") from exc
        table = getattr(module, "TOOLS", None)
        if not isinstance(table, Mapping):
            raise ToolError(str(path), "defines no TOOLS = {name: (callable, json_schema)}")
        return self._register_table(table, origin=str(path))

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> list[str]:
        """Register tools that installed packages publish under the entry point `group`.
        An entry point loads to a `(callable, schema)` pair, a callable, or a TOOLS table."""
        added: list[str] = []
        for entry in importlib.metadata.entry_points(group=group):
            try:
                value = entry.load()
            except Exception as exc:
                raise ToolError(entry.name, f"entry point {entry.value!r} fails: {exc}") from exc
            if isinstance(value, Mapping):
                added += self._register_table(value, origin=entry.value)
            else:
                added += self._register_table({entry.name: value}, origin=entry.value)
        return added

    def _register_table(self, table: Mapping[str, Any], origin: str) -> list[str]:
        for name, value in table.items():
            fn, schema = _unpack(name, value, origin)
            self.register(name, fn, schema)
        return list(table)


def _unpack(name: str, value: Any, origin: str) -> tuple[Callable[..., Any], Any]:
    if isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1]
    if callable(value):
        return value, getattr(value, "schema", None)
    raise ToolError(name, f"in {origin}: expected (callable, json_schema), got {value!r}")


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
