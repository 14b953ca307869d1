"""Hostile input for the calculator: each entry is refused with the limit or rule it hit, quickly.

The corpus (`HOSTILE`) is also what `bench/calculator.py` times. Every entry goes through a real
`deskmcp calculator` subprocess; the round trip of each refusal (the fastest of up to three tries, for noisy
machines) must be under 100 ms, and the server must go on serving afterwards.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hostpipes import deskmcp_command, pipe_server
from test_calculator_worker import children


def _primes(count: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found


def calc(expression: str, **options: Any) -> tuple[str, dict[str, Any]]:
    return "calculate", {"expression": expression, **options}


def _digits(count: int, seed: int) -> str:
    """`count` digits, different for each seed."""
    return "".join(str(1 + (seed * 7 + k * k) % 9) for k in range(count))


# Numbers the caller writes as strings are priced by their length before they are read (about 1 ms each here)
TRIES = 3  # timed round trips: the fastest of up to this many must meet the bound
BIG_DATA = [_digits(10_000, i % 8) for i in range(99)]
BIG_VARIABLES = {f"v{i}": _digits(9_999, i % 8) for i in range(100)}
# Short strings for huge numbers (issue 10): 97 KB of JSON, 10,000 numbers of 10,000 digits if they were built.
HUGE_BY_EXPONENT = ["1e9999"] * 10_000


# (tool, arguments, the error's category: the start of the message)
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    # long inputs
    (*calc("1+" * 6000 + "1"), "Length limit"),
    (*calc("9" * 10_001), "Length limit"),
    (*calc(" " * 20_000 + "1"), "Length limit"),
    # deep nesting
    (*calc("(" * 65 + "1" + ")" * 65), "Depth limit"),
    (*calc("(" * 4999 + ")" * 4999), "Depth limit"),
    (*calc("-" * 9000 + "1"), "Depth limit"),
    (*calc("2**" * 100 + "2"), "Depth limit"),
    (*calc("sqrt(" * 70 + "2" + ")" * 70), "Depth limit"),
    (*calc("1/(1+" * 70 + "1" + ")" * 70), "Depth limit"),
    # too many parts
    (*calc("+".join(["1"] * 3000)), "Complexity limit"),
    (*calc("sin(1)*" * 1200 + "1"), "Complexity limit"),
    # power towers, factorial/comb bombs, giant literals
    (*calc("9**9**9"), "Digit limit"),
    (*calc("10**10**10"), "Digit limit"),
    (*calc("2**(2**(2**(2**(2**5))))"), "Digit limit"),
    (*calc("9^9^9^9"), "Digit limit"),
    (*calc("(-3)**(10**100)"), "Digit limit"),
    (*calc("10**-10001"), "Digit limit"),
    (*calc("(10**9999)**2"), "Digit limit"),
    (*calc("1/(10**9999)/10"), "Digit limit"),
    (*calc("1/3**20000 / 7**11000"), "Digit limit"),
    (*calc("factorial(10**6)"), "Digit limit"),
    (*calc("factorial(factorial(20))"), "Digit limit"),
    (*calc("(10**5)!"), "Digit limit"),
    (*calc("comb(10**6, 5*10**5)"), "Digit limit"),
    (*calc("comb(10**100, 10**50)"), "Digit limit"),
    (*calc("perm(10**100, 10**5)"), "Digit limit"),
    (*calc("lcm(2**20000, 3**20000)"), "Digit limit"),
    (*calc("1e999999999"), "Digit limit"),
    (*calc("1e-999999999"), "Digit limit"),
    (*calc("0x" + "f" * 9000), "Digit limit"),
    (*calc("exp(10**10)"), "Digit limit"),
    (*calc("exp(exp(exp(10)))"), "Digit limit"),
    (*calc("e**(e**(e**e))"), "Digit limit"),
    (*calc("sinh(10**6)"), "Digit limit"),
    (*calc("2**(10**9 + 0.5)"), "Digit limit"),
    (*calc("1.0000001**(10**15)"), "Digit limit"),
    (*calc("(1 + 1e-20)**(10**25)"), "Digit limit"),
    (*calc("pi**(10**6)"), "Digit limit"),
    # expensive within the size limits: priced before running
    (*calc("comb(33000, 16500)"), "Time limit"),
    (*calc("sin(10**5000)"), "Time limit"),
    (*calc("+".join(["sin(10**900)"] * 10)), "Time limit"),
    (*calc("+".join(["factorial(3000)"] * 100)), "Time limit"),
    (*calc("+".join(f"sin({i})" for i in range(1, 60)), precision=1000), "Time limit"),
    (*calc("+".join(["1/3**9000"] * 40)), "Time limit"),
    # code injection, attributes, dunders, strings, containers
    (*calc("__import__('os').system('ls')"), "Not allowed"),
    (*calc("__import__"), "Not allowed"),
    (*calc("__builtins__"), "Not allowed"),
    (*calc("(1).__class__.__bases__[0].__subclasses__()"), "Not allowed"),
    (*calc("x.__class__"), "Not allowed"),
    (*calc("(1).real"), "Not allowed"),
    (*calc("sqrt.__call__(4)"), "Not allowed"),
    (*calc("eval('1+1')"), "Unknown name"),
    (*calc("'a' * 10**8"), "Not allowed"),
    (*calc('"9" * 10**9'), "Not allowed"),
    (*calc("f'{1}'"), "Not allowed"),
    (*calc("[x for x in range(9**9)]"), "Not allowed"),
    (*calc("{1: 2}"), "Not allowed"),
    (*calc("lambda: 0"), "Not allowed"),
    (*calc("import os"), "Not allowed"),
    (*calc("1 if 1 else 2"), "Not allowed"),
    (*calc("1; import os"), "Not allowed"),
    (*calc("a = 1"), "Not allowed"),
    (*calc("(a := 1)"), "Not allowed"),
    (*calc("1 << 10**9"), "Not allowed"),
    (*calc("~1 & 2 | 3"), "Not allowed"),
    (*calc("exec"), "Unknown name"),
    (*calc("open"), "Unknown name"),
    (*calc("globals()"), "Unknown name"),
    (*calc("True + 1"), "Not allowed"),
    (*calc("inf"), "Not allowed"),
    (*calc("nan"), "Not allowed"),
    # unicode tricks
    (*calc("sqrt\u200b(4)"), "Not allowed"),
    (*calc("1\u202e+2"), "Not allowed"),
    (*calc("ｓｑｒｔ(4)"), "Not allowed"),
    (*calc("١٢٣ + 1"), "Not allowed"),
    (*calc("𝟏 + 1"), "Not allowed"),
    (*calc("\x00"), "Not allowed"),
    (*calc("1\ufeff+1"), "Not allowed"),
    # malformed
    (*calc(""), "Syntax error"),
    (*calc("1 +"), "Syntax error"),
    (*calc("((1)"), "Syntax error"),
    (*calc("2pi"), "Syntax error"),
    (*calc("1j"), "Syntax error"),
    (*calc("0x"), "Syntax error"),
    (*calc("5!!"), "Syntax error"),
    (*calc("sqrt"), "Syntax error"),
    (*calc("pi(2)"), "Syntax error"),
    (*calc("max(1 < 2)"), "Syntax error"),
    (*calc("sqrt(1, 2)"), "Invalid argument"),
    (*calc("factorial(2.5)"), "Invalid argument"),
    (*calc("factorial(pi)"), "Invalid argument"),
    (*calc("round(1/3, 100000)"), "Invalid argument"),
    # arithmetic faults, with positions
    (*calc("1/0"), "Division by zero"),
    (*calc("1 % (2 - 2)"), "Division by zero"),
    (*calc("5 // 0"), "Division by zero"),
    (*calc("0**-1"), "Division by zero"),
    (*calc("1/(pi - pi)"), "Undetermined"),
    (*calc("sqrt(-1)"), "Domain error"),
    (*calc("ln(0)"), "Domain error"),
    (*calc("log(-5)"), "Domain error"),
    (*calc("log(5, 1)"), "Domain error"),
    (*calc("asin(2)"), "Domain error"),
    (*calc("acosh(0)"), "Domain error"),
    (*calc("atanh(1)"), "Domain error"),
    (*calc("(-8)**0.5"), "Domain error"),
    (*calc("(-2)**pi"), "Domain error"),
    (*calc("factorial(-1)"), "Domain error"),
    (*calc("tan(pi/2)"), "Undetermined"),
    (*calc("floor(sqrt(2)**2)"), "Undetermined"),
    # hostile arguments
    (*calc("1", precision=10**6), "Invalid arguments"),
    (*calc("1", precision=0), "Invalid arguments"),
    (*calc("x", variables={"__class__": 1}), "Invalid argument"),
    (*calc("sqrt", variables={"sqrt": 2}), "Invalid argument"),
    (*calc("x", variables={"x": "1e999999999"}), "Digit limit"),
    (*calc("x", variables={"x": "__import__('os')"}), "Invalid argument"),
    (*calc("x", variables={f"v{i}": i for i in range(101)}), "Invalid argument"),
    (*calc("x", variables={"x": [1, 2]}), "Invalid arguments"),
    ("calculate", {"expression": 42}, "Invalid arguments"),
    ("calculate", {"expression": "1", "Expression": "import os"}, "Invalid arguments"),  # a near miss: refused
    ("statistics", {"data": list(range(10_001))}, "Invalid arguments"),
    ("statistics", {"data": []}, "Invalid arguments"),
    ("statistics", {"data": ["1e999999999"]}, "Digit limit"),
    ("statistics", {"data": ["1/3", "os.system('ls')"]}, "Invalid argument"),
    ("statistics", {"data": [f"1/{p}" for p in _primes(3000)]}, "Time limit"),
    ("statistics", {"data": [f"1/{hex(2**k)}" for k in range(33_300, 33_310)]}, "Digit limit"),
    ("statistics", {"data": BIG_DATA}, "Time limit"),
    ("statistics", {"data": ["0." + "0" * 10_000]}, "Length limit"),
    ("statistics", {"data": HUGE_BY_EXPONENT}, "Time limit"),
    ("statistics", {"data": ["1e9999", "1e-9999"] * 5_000}, "Time limit"),
    ("statistics", {"data": ["1e-9999"] * 10_000}, "Time limit"),
    ("statistics", {"data": [f"{k}e{9_000 + k % 999}" for k in range(1, 10_001)]}, "Time limit"),
    ("statistics", {"data": ["1e5000", "1e-5001"]}, "Digit limit"),
    (*calc("+".join(["1e9999"] * 1_000)), "Time limit"),
    (*calc("1", variables={f"v{i}": "1e9999" for i in range(100)}), "Time limit"),
    (*calc("1", variables=BIG_VARIABLES), "Time limit"),
]


def entry_id(entry: tuple[str, dict[str, Any], str]) -> str:
    tool, arguments, _ = entry
    shown = json.dumps(arguments.get("expression", arguments), ensure_ascii=True)
    return f"{tool}:{shown[:40]}"


@pytest.fixture(scope="module")
def server() -> Any:
    with pipe_server(deskmcp_command("calculator")) as process:
        process.initialize()
        process.call_tool("calculate", {"expression": "sqrt(2)"})  # warm: mpmath is imported on first use
        process.call_tool("calculate", {"expression": "3248!"})  # and the worker process started
        yield process
        assert process.call_tool("calculate", {"expression": "6*7"})["content"][0]["text"] == "42"
        assert process.close() == 0


@pytest.mark.parametrize("entry", HOSTILE, ids=[entry_id(entry) for entry in HOSTILE])
def test_hostile_input_is_refused_quickly(server: Any, entry: tuple[str, dict[str, Any], str]) -> None:
    tool, arguments, category = entry
    elapsed = float("inf")
    for _ in range(TRIES):  # CI machines are noisy: a refusal that is really slow is slow every time
        start = time.perf_counter()
        result = server.call_tool(tool, arguments)
        elapsed = min(elapsed, time.perf_counter() - start)
        if elapsed < 0.1:
            break
    text = result["content"][0]["text"]
    assert result.get("isError") is True, result
    assert text.startswith(f"{category}:") or text.startswith(f"{category} for tool"), text
    assert "structuredContent" not in result
    assert elapsed < 0.1, f"{elapsed * 1000:.1f} ms"


def test_the_corpus_covers_every_kind_of_refusal() -> None:
    categories = {category for _, _, category in HOSTILE}
    assert {"Length limit", "Depth limit", "Complexity limit", "Digit limit", "Time limit", "Not allowed"} <= categories
    assert len(HOSTILE) >= 100


def test_errors_point_at_the_position(server: Any) -> None:
    cases = {
        "1 + 2/(3-3)": (6, "Division by zero: the divisor is zero."),
        "2 * sqrt(-4)": (5, "Domain error: sqrt is defined for numbers >= 0; got -4."),
        "10 + 9**9**9": (7, "Digit limit: this power would produce a number of about 369,693,100 digits"),
        "1 + foo(2)": (5, "Unknown name: 'foo' is not a function or constant here."),
        "2 + 'x'": (5, "Not allowed: strings are not part of the calculator language"),
    }
    for expression, (position, message) in cases.items():
        text = server.call_tool("calculate", {"expression": expression})["content"][0]["text"]
        first, excerpt, caret = text.split("\n")
        assert first.startswith(message), text
        assert excerpt == f"  at position {position}: {expression}"
        assert caret.index("^") == excerpt.index(": ") + 2 + position - 1


def test_a_slow_request_does_not_hold_up_others() -> None:
    """While an expensive (allowed) calculation runs, a cheap request sent after it is answered first."""
    slow = "+".join(f"sin({i})" for i in range(1, 400))
    env = {"DESKMCP_CALCULATOR_TIME_LIMIT_MS": "20000"}
    with pipe_server(deskmcp_command("calculator"), env=env) as process:
        process.initialize()
        slow_id = process.send_request(
            "tools/call", {"name": "calculate", "arguments": {"expression": slow, "precision": 1000}}
        )
        time.sleep(0.05)
        start = time.perf_counter()
        quick_id = process.send_request("tools/call", {"name": "calculate", "arguments": {"expression": "6*7"}})
        first = process.next_message(timeout=30)
        quick_latency = time.perf_counter() - start
        assert first["id"] == quick_id, "the cheap request waited for the slow one"
        assert first["result"]["content"][0]["text"] == "42"
        second = process.response(slow_id, timeout=60)
        assert second["result"]["structuredContent"]["exact"] is False
        assert quick_latency < 0.5, quick_latency
        assert process.close() == 0


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [("statistics", {"data": BIG_DATA}), calc("1", variables=BIG_VARIABLES)],
    ids=["statistics", "variables"],
)
def test_reading_big_numbers_does_not_hold_up_others(server: Any, tool: str, arguments: dict[str, Any]) -> None:
    """The server reads the strings in a worker thread, not on the loop that answers the next request."""
    latency = float("inf")
    for _ in range(TRIES):  # CI machines are noisy: a quick request that really waits waits every time
        hostile = server.send_request("tools/call", {"name": tool, "arguments": arguments})
        start = time.perf_counter()
        quick = server.send_request("tools/call", {"name": "calculate", "arguments": {"expression": "6*7"}})
        replies = {}
        while quick not in replies:
            message = server.next_message(timeout=10)
            replies[message["id"]] = message["result"]
        latency = min(latency, time.perf_counter() - start)
        if hostile not in replies:
            replies[hostile] = server.response(hostile)["result"]
        assert replies[quick]["content"][0]["text"] == "42"
        assert replies[hostile]["content"][0]["text"].startswith("Time limit: "), replies[hostile]
        if latency < 0.05:
            break
    assert latency < 0.05, f"{latency * 1000:.1f} ms"


def test_megabytes_of_digits_are_refused_once_the_request_is_read(server: Any) -> None:
    """800 numbers of 10,000 digits (8 MB; reading them all would take seconds): refused after about as long as
    the same request refused at its first value takes. Moving 8 MB through a pipe and JSON takes longer than
    100 ms here and varies by tens of milliseconds, so the bound is on the difference of the fastest of three
    alternating rounds."""
    data = [_digits(10_000, i % 8) for i in range(800)]
    requests = {
        "transport": (["x", *data[1:]], "Invalid argument: data[0] is 'x'"),
        "refused": (data, "Time limit: "),
    }
    fastest = dict.fromkeys(requests, float("inf"))
    for _ in range(3):
        for label, (values, category) in requests.items():
            start = time.perf_counter()
            text = server.call_tool("statistics", {"data": values})["content"][0]["text"]
            fastest[label] = min(fastest[label], time.perf_counter() - start)
            assert text.startswith(category), text
    difference = fastest["refused"] - fastest["transport"]
    assert difference < 0.1, f"{fastest['refused'] * 1000:.0f} ms against {fastest['transport'] * 1000:.0f} ms"


def test_hostile_requests_in_flight_do_not_hold_up_others(server: Any) -> None:
    """A burst of refusals interleaved with valid requests, all written at once: every one is answered."""
    expressions = [arguments["expression"] for tool, arguments, _ in HOSTILE if tool == "calculate"][:40]
    expected = {}
    for expression in expressions:
        bad = server.send_request("tools/call", {"name": "calculate", "arguments": {"expression": expression}})
        good = server.send_request("tools/call", {"name": "calculate", "arguments": {"expression": "2**10"}})
        expected[bad], expected[good] = True, False
    replies = {}
    while len(replies) < len(expected):
        message = server.next_message(timeout=10)
        replies[message["id"]] = message["result"]
    for request_id, refused in expected.items():
        result = replies[request_id]
        assert result.get("isError", False) is refused, result
        if not refused:
            assert result["content"][0]["text"] == "1024"


def _memory_mb(pid: int, field: str) -> float:
    """A memory figure of a process from /proc (VmRSS: resident now, VmHWM: the peak so far), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field}")


def test_hostile_statistics_at_once_are_refused_in_bounded_memory() -> None:
    """Ten requests of 10,000 strings "1e9999" at once reached 937 MB before their values were priced."""
    if not Path("/proc/self/status").exists():
        pytest.skip("memory is read from /proc, which only Linux has")
    with pipe_server(deskmcp_command("calculator")) as process:
        process.initialize()
        process.call_tool("statistics", {"data": list(range(200))})  # starts the worker
        server_before = _memory_mb(process.process.pid, "VmRSS")
        [worker] = children(process.process.pid)
        worker_before = _memory_mb(worker, "VmRSS")
        requests = [
            process.send_request("tools/call", {"name": "statistics", "arguments": {"data": HUGE_BY_EXPONENT}})
            for _ in range(10)
        ]
        for request in requests:
            text = process.response(request, timeout=60)["result"]["content"][0]["text"]
            assert text.startswith("Time limit: "), text
        assert _memory_mb(process.process.pid, "VmHWM") - server_before < 60
        assert _memory_mb(worker, "VmHWM") - worker_before < 30
        assert process.close() == 0
