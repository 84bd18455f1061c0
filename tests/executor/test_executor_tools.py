"""The tool registry and the built-in tools (no model needed)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from executor import ToolError, ToolRegistry, ToolTimeout
from executor.tools.builtin import CalculatorError, calculator


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("-2 ** 2", -4),
        ("7 // 2 + 7 % 2", 4),
        ("10 / 4", 2.5),
        ("sqrt(16) + abs(-3)", 7.0),
        ("max(1, 5, 3) - min(4, 2)", 3),
        ("round(pi, 2)", 3.14),
        ("2 ** 10", 1024),
        ("+3 - -3", 6),
    ],
)
def test_calculator_evaluates_arithmetic(expression: str, expected: float) -> None:
    assert calculator(expression) == expected


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('true')", "not allowed"),
        ("open('/etc/passwd')", "unknown function"),
        ("x + 1", "not allowed"),
        ("'a' * 3", "only numbers"),
        ("True + 1", "only numbers"),
        ("9 ** 9 ** 9", "exponent"),
        ("2 ** 1000 * 2 ** 1000 * 2 ** 1000 * 2 ** 1000 * 2 ** 1000", "too large"),
        ("1 / 0", "division by zero"),
        ("factorial(5)", "unknown function"),
        ("[1, 2][0]", "not allowed"),
        ("1 +", "not an arithmetic expression"),
        ("(1).real", "not allowed"),
        ("sqrt(-1)", "sqrt"),
        ("1" * 2000, "longer than"),
    ],
)
def test_calculator_rejects_everything_else(expression: str, message: str) -> None:
    with pytest.raises(CalculatorError, match=message):
        calculator(expression)


def test_builtins_validate_arguments_against_their_schema() -> None:
    tools = ToolRegistry.with_builtins()
    assert asyncio.run(tools.call("calculator", {"expression": "6 * 7"})) == 42
    with pytest.raises(ToolError, match="'expression' is a required property"):
        asyncio.run(tools.call("calculator", {}))
    with pytest.raises(ToolError, match="expression: 5 is not of type 'string'"):
        asyncio.run(tools.call("calculator", {"expression": 5}))
    with pytest.raises(ToolError, match="Additional properties"):
        asyncio.run(tools.call("calculator", {"expression": "1", "extra": 1}))
    with pytest.raises(ToolError, match="unknown tool"):
        tools.get("rm_rf")
    assert "http_get" not in tools


def test_regex_extract_and_json_parse() -> None:
    tools = ToolRegistry.with_builtins()
    text = "hosts 10.0.0.1 and 192.168.1.7"
    ip = r"\d+\.\d+\.\d+\.\d+"
    assert asyncio.run(tools.call("regex_extract", {"text": text, "pattern": ip})) == "10.0.0.1"
    found = asyncio.run(tools.call("regex_extract", {"text": text, "pattern": ip, "all": True}))
    assert found == ["10.0.0.1", "192.168.1.7"]
    parsed = asyncio.run(tools.call("json_parse", {"text": 'Answer: {"a": [1, 2]} done'}))
    assert parsed == {"a": [1, 2]}
    with pytest.raises(ToolError, match="no JSON value"):
        asyncio.run(tools.call("json_parse", {"text": "nothing here"}))
    with pytest.raises(ToolError, match="invalid regular expression"):
        asyncio.run(tools.call("regex_extract", {"text": "a", "pattern": "("}))


def test_regex_extract_runs_in_linear_time_and_refuses_backtracking_syntax() -> None:
    tools = ToolRegistry.with_builtins()
    # exponential for a backtracking engine (years at 60 characters), linear for RE2
    hostile = {"text": "a" * 60 + "!", "pattern": "^(a+)+$"}
    assert asyncio.run(tools.call("regex_extract", hostile)) is None
    words = {"text": "no no yes", "pattern": r"\b(\w+) \1\b"}
    with pytest.raises(ToolError, match=r"backreferences .* RE2"):
        asyncio.run(tools.call("regex_extract", words))
    anchored = {"text": "ends here", "pattern": r"\w+\Z"}
    assert asyncio.run(tools.call("regex_extract", anchored)) == "here"


def test_sync_and_async_tools_time_out() -> None:
    tools = ToolRegistry()

    def slow_sync(seconds: float) -> str:
        time.sleep(seconds)
        return "done"

    async def slow_async(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"

    schema = {"type": "object", "properties": {"seconds": {"type": "number"}}}
    tools.register("slow_sync", slow_sync, schema)
    tools.register("slow_async", slow_async, schema)
    for name in ("slow_sync", "slow_async"):
        assert asyncio.run(tools.call(name, {"seconds": 0.01}, timeout_s=5)) == "done"
        with pytest.raises(ToolTimeout, match=f"tool '{name}': timed out after 0.2 s"):
            asyncio.run(_timed(tools.call(name, {"seconds": 1}, timeout_s=0.2), within_s=0.8))


async def _timed(call, within_s: float):
    started = time.monotonic()
    try:
        return await call
    finally:
        assert time.monotonic() - started < within_s


def test_tool_exceptions_name_the_tool() -> None:
    tools = ToolRegistry()

    def broken() -> None:
        raise KeyError("missing")

    tools.register("broken", broken)
    with pytest.raises(ToolError, match="tool 'broken': KeyError"):
        asyncio.run(tools.call("broken", {}))
    with pytest.raises(ToolError, match="invalid argument schema"):
        tools.register("bad", broken, {"type": "nonsense"})


def test_load_module_registers_its_tools_table(tmp_path: Path) -> None:
    module = tmp_path / "my_tools.py"
    module.write_text(
        "def shout(text: str) -> str:\n    return text.upper()\n"
        "TOOLS = {'shout': (shout, {'type': 'object', 'properties': {'text': {'type': 'string'}},"
        " 'required': ['text']})}\n"
    )
    tools = ToolRegistry()
    assert tools.load_module(module) == ["shout"]
    assert asyncio.run(tools.call("shout", {"text": "hi"})) == "HI"
    (tmp_path / "no_table.py").write_text("X = 1\n")
    with pytest.raises(ToolError, match="defines no TOOLS"):
        tools.load_module(tmp_path / "no_table.py")
    with pytest.raises(ToolError, match="not found"):
        tools.load_module(tmp_path / "absent.py")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = json.dumps({"path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_http_get_is_off_unless_allowed_and_honours_the_allowlist() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/lookup"
        assert "http_get" not in ToolRegistry.with_builtins()
        tools = ToolRegistry.with_builtins(allow_http=True, hosts=["127.0.0.1"])
        result = asyncio.run(tools.call("http_get", {"url": url, "params": {"ip": "1.2.3.4"}}))
        assert result["status"] == 200
        assert result["json"] == {"path": "/lookup?ip=1.2.3.4"}
        other = ToolRegistry.with_builtins(allow_http=True, hosts=["example.org"])
        with pytest.raises(ToolError, match="host '127.0.0.1' is not allowed"):
            asyncio.run(other.call("http_get", {"url": url}))
        with pytest.raises(ToolError, match="only http and https"):
            asyncio.run(tools.call("http_get", {"url": "file:///etc/passwd"}))
    finally:
        server.shutdown()


def test_entry_points_of_installed_distributions_register_tools(tmp_path: Path,
                                                                monkeypatch) -> None:
    (tmp_path / "acme_tools.py").write_text(
        "def reverse(text: str) -> str:\n    return text[::-1]\n"
        "SCHEMA = {'type': 'object', 'properties': {'text': {'type': 'string'}}}\n"
        "REVERSE = (reverse, SCHEMA)\n"
    )
    info = tmp_path / "acme_tools-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-tools\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[flowc.tools]\nreverse = acme_tools:REVERSE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tools = ToolRegistry()
    assert "reverse" in tools.load_entry_points()
    assert asyncio.run(tools.call("reverse", {"text": "abc"})) == "cba"
    with pytest.raises(ToolError, match="text: 5 is not of type 'string'"):
        asyncio.run(tools.call("reverse", {"text": 5}))
