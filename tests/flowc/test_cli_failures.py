"""The `flowc` command as a user meets it, in real subprocesses: every failure is one line on
stderr with the `error: ` prefix and no traceback; exit code 1 is the workflow's fault, 2 a
usage mistake, 130 an interrupted run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FLOWC = str(Path(sys.executable).parent / "flowc")
SOAR = str(ROOT / "examples" / "graphs" / "soar_triage.json")


def flowc(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWC, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The single stderr line of a failure, after checking its exit code and shape."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def tool_graph(folder: Path, tool: str) -> Path:
    graph = folder / "graph.json"
    graph.write_text(json.dumps({
        "flowc": 1, "name": "uses_a_tool",
        "nodes": [{"id": "call", "type": "tool", "tool": tool, "args": {}, "output": "out",
                   "timeout_s": 60}],
        "outputs": {"out": "{{ out }}"},
    }))
    return graph


def test_version_prints_the_installed_version() -> None:
    result = flowc("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"flowc {version('flowc')}"


def test_an_unwritable_trace_path_is_refused_before_the_run() -> None:
    started = time.monotonic()
    line = one_error_line(flowc("run", SOAR, "--trace", "/nonexistent/dir/t.json"), 2)
    assert line == ("error: --trace /nonexistent/dir/t.json: no folder /nonexistent/dir: "
                    "create it or choose another path")
    assert time.monotonic() - started < 20  # no model was loaded


def test_a_tokenizer_folder_without_a_tokenizer_is_a_usage_error() -> None:
    line = one_error_line(flowc("compile", SOAR, "--tokenizer", "docs"), 2)
    assert line.startswith("error: --tokenizer docs: no tokenizer in that folder")


def test_usage_mistakes_exit_2_in_one_line() -> None:
    assert one_error_line(flowc("run", SOAR, "--bogus"), 2) == (
        "error: No such option: --bogus (see flowc run --help)")
    assert one_error_line(flowc("compile"), 2).startswith("error: Missing argument")
    assert one_error_line(flowc("compile", "nope.json"), 2) == "error: no such file: nope.json"
    assert one_error_line(flowc("validate", "nope.json"), 2) == "error: no such file: nope.json"
    assert one_error_line(flowc("compile", SOAR, "--format", "pdf"), 2).startswith(
        "error: unknown format 'pdf'")


def test_an_invalid_input_is_the_workflows_fault() -> None:
    line = one_error_line(flowc("run", SOAR, "--tools", "examples/tools.py", "--inputs",
                                "nope.json"), 1)
    assert line == "error: no such file: nope.json"


def test_a_tools_py_beside_the_graph_is_suggested_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    (tmp_path / "tools.py").write_text(
        "from pathlib import Path\n"
        f"Path({str(marker)!r}).write_text('loaded')\n"
        "TOOLS = {'mark': (lambda: 'x', {'type': 'object'})}\n")
    graph = tool_graph(tmp_path, "mark")
    line = one_error_line(flowc("run", str(graph)), 1)
    suggested = tmp_path / "tools.py"
    assert line == f"error: unknown tool(s) mark: pass --tools {suggested} if you trust it"
    assert not marker.exists()


def test_ctrl_c_names_the_node_in_flight_and_writes_the_partial_trace(tmp_path: Path) -> None:
    started = tmp_path / "started"
    tools = tmp_path / "slow_tools.py"
    tools.write_text(
        "import time\nfrom pathlib import Path\n\n"
        "def wait():\n"
        f"    Path({str(started)!r}).write_text('yes')\n"
        "    time.sleep(60)\n    return 'done'\n\n"
        "TOOLS = {'wait': (wait, {'type': 'object'})}\n")
    graph = tool_graph(tmp_path, "wait")
    trace = tmp_path / "trace.json"
    process = subprocess.Popen([FLOWC, "run", str(graph), "--tools", str(tools), "--trace",
                                str(trace)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=ROOT)
    deadline = time.monotonic() + 300
    while not started.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert lines[0].startswith("error: cancelled: run cancelled") and "call" in lines[0]
    assert lines[1] == f"error: the partial trace is in {trace}"
    written = json.loads(trace.read_text())
    assert written["status"] == "cancelled"
    assert [n["node_id"] for n in written["nodes"]] == ["call"]


def test_validate_warns_when_max_tokens_cannot_hold_a_choice(tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({
        "flowc": 1, "name": "short",
        "nodes": [{"id": "label", "type": "llm", "output": "label", "prompt": "Pick one.",
                   "choices": ["billing", "extraordinarily unbelievable"], "max_tokens": 2}],
    }))
    result = flowc("validate", str(graph))
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: node label: max_tokens=2 cannot hold choice 'extraordinarily unbelievable' "
        "(5 tokens), so it is never picked: raise max_tokens to 5"]


def test_a_workflow_without_llm_or_select_nodes_loads_no_model(tmp_path: Path) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(json.dumps({
        "flowc": 1, "name": "arith", "inputs": {"n": {"type": "integer", "default": 4}},
        "nodes": [{"id": "double", "type": "set", "assign": {"m": "n * 2"}}],
        "outputs": {"m": "{{ m }}"},
    }))
    # a model that cannot load: the run never asks for it
    result = flowc("run", str(graph), "--model", "dummy:nope")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"m": 8}
