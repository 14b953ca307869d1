"""`deskmcp calculator` as hosts run it: raw pipes and the official SDK client in both protocol eras, the MCP
Inspector CLI, settings from the environment, and what start-up imports."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
import pytest
from hostpipes import deskmcp_command, host_env, pipe_server, run_inspector, sdk_client, sdk_session

CALCULATOR = deskmcp_command("calculator")


def text_of(result: dict[str, Any]) -> str:
    return result["content"][0]["text"]


def test_handshake_era_over_raw_pipes() -> None:
    with pipe_server(CALCULATOR) as server:
        initialized = server.initialize()
        assert initialized["serverInfo"]["name"] == "deskmcp-calculator"
        assert "tools" in initialized["capabilities"]
        tools = {tool["name"]: tool for tool in server.result("tools/list")["tools"]}
        assert set(tools) == {"calculate", "statistics"}
        assert tools["calculate"]["inputSchema"]["required"] == ["expression"]
        assert tools["calculate"]["annotations"]["readOnlyHint"] is True
        for expression in ("2*(3+4)**2/7", "1/3", "sqrt(2)", "2**64 > 1e19", "sin(1)", "(1+1/1000)**1000"):
            result = server.call_tool("calculate", {"expression": expression})
            jsonschema.validate(result["structuredContent"], tools["calculate"]["outputSchema"])
        for data in ([1, 2, 3, 4], [5]):
            result = server.call_tool("statistics", {"data": data})
            jsonschema.validate(result["structuredContent"], tools["statistics"]["outputSchema"])
        big = server.call_tool("calculate", {"expression": "10**9999 + 1"})
        value = big["structuredContent"]["value"]
        assert len(value) == 10_000 and value.startswith("1000") and value.endswith("0001")
        assert big["structuredContent"]["decimal"] == "1e+9999"
        assert text_of(big) == (
            "≈ 1e+9999 (exactly an integer of 10,000 digits: too long to show here; the structured result's "
            "`value` has it in full)"
        )
        refused = server.call_tool("calculate", {"expression": "9**9**9"})
        assert refused["isError"] and text_of(refused).startswith("Digit limit:")
        assert server.call_tool("calculate", {"expression": "6*7"})["structuredContent"]["value"] == "42"
        assert server.close() == 0
        assert "Traceback" not in server.stderr


def test_2026_era_over_raw_pipes() -> None:
    with pipe_server(CALCULATOR) as server:
        discovered = server.result("server/discover", {}, modern=True)
        assert "tools" in json.dumps(discovered)
        names = {tool["name"] for tool in server.result("tools/list", {}, modern=True)["tools"]}
        assert names == {"calculate", "statistics"}
        result = server.call_tool("calculate", {"expression": "0.1 + 0.2", "precision": 5}, modern=True)
        assert result["structuredContent"] == {"value": "0.3", "exact": True, "decimal": "0.3"}
        irrational = server.call_tool("calculate", {"expression": "pi", "precision": 30}, modern=True)
        assert irrational["structuredContent"]["value"] == "3.14159265358979323846264338328"
        refused = server.call_tool("calculate", {"expression": "__import__('os')"}, modern=True)
        assert refused["isError"] and text_of(refused).startswith("Not allowed:")
        stats = server.call_tool("statistics", {"data": ["0.1", "0.2", "0.3"]}, modern=True)
        assert stats["structuredContent"]["mean"]["value"] == "0.2"
        assert server.close() == 0


@pytest.mark.anyio
async def test_sdk_client_in_the_handshake_era() -> None:
    async with sdk_session(CALCULATOR) as session:
        listing = await session.list_tools()
        assert {tool.name for tool in listing.tools} == {"calculate", "statistics"}
        result = await session.call_tool("calculate", {"expression": "123456789*987654321"})
        assert not result.is_error
        assert result.structured_content == {
            "value": "121932631112635269",
            "exact": True,
            "decimal": "1.21932631112635e+17",
        }
        refused = await session.call_tool("calculate", {"expression": "1/0"})
        assert refused.is_error and refused.content[0].text.startswith("Division by zero:")
        invalid = await session.call_tool("calculate", {"expression": "1", "precision": "high"})
        assert invalid.is_error and "precision" in invalid.content[0].text
        stats = await session.call_tool("statistics", {"data": [1, 2, 3, 4], "quantiles": 2})
        assert stats.structured_content["median"]["value"] == "2.5"
        assert stats.structured_content["quantiles"] == [{"value": "2.5", "exact": True, "decimal": "2.5"}]


@pytest.mark.anyio
async def test_sdk_client_in_the_2026_era() -> None:
    async with sdk_client(CALCULATOR) as client:
        assert client.session.protocol_version == "2026-07-28"
        result = await client.call_tool("calculate", {"expression": "x**2 + y", "variables": {"x": 1.5, "y": "1/4"}})
        assert result.structured_content == {"value": "2.5", "exact": True, "decimal": "2.5"}
        result = await client.call_tool("calculate", {"expression": "255", "base": 16})
        assert result.content[0].text == "0xff (= 255)"
        refused = await client.call_tool("calculate", {"expression": "factorial(10**6)"})
        assert refused.is_error and refused.content[0].text.startswith("Digit limit:")


def test_inspector_in_both_eras() -> None:
    """Five Inspector runs in parallel (each costs a Node start and a server start)."""
    calls = {
        f"list-{era}": ("--method", "tools/list", "--strict", "--protocol-era", era) for era in ("legacy", "modern")
    }
    call = ("--method", "tools/call", "--tool-name", "calculate", "--tool-args-json")
    for era in ("legacy", "modern"):
        calls[f"call-{era}"] = (*call, json.dumps({"expression": "(2**64 - 1) / 3"}), "--protocol-era", era)
    calls["refused"] = (*call, json.dumps({"expression": "9**9**9"}))
    with ThreadPoolExecutor(len(calls)) as pool:
        futures = {name: pool.submit(run_inspector, CALCULATOR, *options) for name, options in calls.items()}
        done = {name: future.result() for name, future in futures.items()}
    for era in ("legacy", "modern"):
        listing = done[f"list-{era}"]
        assert listing.returncode == 0, listing.stderr
        assert {tool["name"] for tool in json.loads(listing.stdout)["result"]["tools"]} == {"calculate", "statistics"}
        called = done[f"call-{era}"]
        assert called.returncode == 0, called.stderr
        assert json.loads(called.stdout)["result"]["structuredContent"] == {
            "value": "6148914691236517205",
            "exact": True,
            "decimal": "6.14891469123652e+18",
        }
    assert done["refused"].returncode == 5, done["refused"].stdout + done["refused"].stderr  # 5: an isError result


def test_settings_change_precision_and_limits() -> None:
    env = {
        "DESKMCP_CALCULATOR_PRECISION": "30",
        "DESKMCP_CALCULATOR_MAX_DIGITS": "200",
        "DESKMCP_CALCULATOR_TIME_LIMIT_MS": "5",
    }
    with pipe_server(CALCULATOR, env=env) as server:
        server.initialize()
        description = server.result("tools/list")["tools"][0]["description"]
        assert "(default 30)" in description and "200 digits per number" in description and "5 ms" in description
        assert server.call_tool("calculate", {"expression": "sqrt(2)"})["structuredContent"]["value"] == (
            "1.41421356237309504880168872421"
        )
        assert text_of(server.call_tool("calculate", {"expression": "2**1000"})).startswith("Digit limit:")
        slow = server.call_tool("calculate", {"expression": "sin(1) + sin(2)", "precision": 1000})
        assert text_of(slow).startswith("Time limit:") and "(DESKMCP_CALCULATOR_TIME_LIMIT_MS)" in text_of(slow)
        assert server.close() == 0


def test_a_bad_setting_stops_the_server_before_it_serves() -> None:
    env = host_env({"DESKMCP_CALCULATOR_PRECISION": "lots"})
    completed = subprocess.run(CALCULATOR, input="", capture_output=True, text=True, env=env, timeout=30)
    assert completed.returncode == 1
    assert "DESKMCP_CALCULATOR_PRECISION: expected a whole number from 1 to 1,000, got 'lots'" in completed.stderr
    assert completed.stdout == ""


def test_start_up_and_exact_work_do_not_import_mpmath() -> None:
    code = (
        "import sys\n"
        "from deskmcp.servers.calculator import SPEC\n"
        "from deskmcp.servers.calculator.calculation import calculate\n"
        "from deskmcp.servers.calculator.limits import Budget, Limits\n"
        "from deskmcp.shared.app import Config\n"
        "SPEC.create(Config(None, {'PRECISION': 15, 'MAX_DIGITS': 10000, 'TIME_LIMIT_MS': 50}))\n"
        "answer = calculate('2*(3+4)**2/7 + sqrt(16)', precision=15, variables={}, base=10, limits=Limits(),"
        " budget=Budget(50, on_loop=True))\n"
        "assert answer.value == '18', answer\n"
        "print('mpmath' in sys.modules)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


def test_mpmath_counts_as_loaded_only_once_it_is_fully_imported() -> None:
    """While a thread is still importing mpmath (the first call that needs it), a call on the event loop must
    not use it: the loop would wait on the import lock for tens of milliseconds."""
    code = (
        "import sys, threading\n"
        "from deskmcp.servers.calculator import inexact\n"
        "loader = threading.Thread(target=inexact.load)\n"
        "loader.start()\n"
        "while not inexact.loaded():\n"
        "    pass\n"
        "print(getattr(sys.modules['mpmath'].__spec__, '_initializing', False))\n"  # importlib's mark
        "loader.join()\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False", "loaded() was true while mpmath was still being imported"


def test_interval_precision_is_per_thread() -> None:
    """mpmath keeps precision in its context object; each thread has its own, so answers never mix."""
    from deskmcp.servers.calculator.calculation import calculate
    from deskmcp.servers.calculator.limits import Budget, Limits

    expected = {
        10: "3.141592654",
        60: "3.14159265358979323846264338327950288419716939937510582097494",
    }
    failures: list[str] = []

    def work(precision: int) -> None:
        for _ in range(30):
            budget = Budget(1000, on_loop=False)
            answer = calculate("pi", precision=precision, variables={}, base=10, limits=Limits(), budget=budget)
            if answer.value != expected[precision]:
                failures.append(answer.value)

    threads = [threading.Thread(target=work, args=(precision,)) for precision in (10, 60, 10, 60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
