"""flowc's workflow executor: runs a compiled Plan on an engine (`engine.api.EngineAPI`).

    runtime = WorkflowRuntime(engine, load_tools(["tools.py"]))
    result = await runtime.run(plan, {"alert": "..."})   # RunResult: status, outputs, trace
    print(explain_run(plan, result.trace))                 # EXPLAIN ANALYZE
"""

from executor.checkpoint import Checkpoint
from executor.events import EventKind, RunEvent
from executor.executor import Executor, RunResult, Status
from executor.explain import explain_run
from executor.nodes import render_args, render_value
from executor.runtime import PlanRunner, WorkflowRuntime
from executor.schedule import Schedule
from executor.tools import Tool, ToolError, ToolRegistry, ToolTimeout, load_tools
from executor.trace import NodeTrace, PrefixTrace, Trace

__all__ = [
    "Checkpoint",
    "EventKind",
    "Executor",
    "NodeTrace",
    "PlanRunner",
    "PrefixTrace",
    "RunEvent",
    "RunResult",
    "Schedule",
    "Status",
    "Tool",
    "ToolError",
    "ToolRegistry",
    "ToolTimeout",
    "Trace",
    "WorkflowRuntime",
    "explain_run",
    "load_tools",
    "render_args",
    "render_value",
]
