"""The calculator's worker process: heavy work runs there, cheap work never waits for it, cancellation and the
wall clock end it, in-flight work is bounded, it never writes to the wire, and it never outlives the server.

Process checks read /proc (Linux); they are skipped elsewhere. No assertion here depends on a tight timing:
waits poll up to generous deadlines, and "at once" means well before the work itself could have finished.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from deskmcp.servers.calculator.errors import BUSY, TIME_LIMIT, WORKER, CalculationError
from deskmcp.servers.calculator.limits import Limits
from deskmcp.servers.calculator.pool import MAX_WAITING, WORKER_COMMAND, WorkerPool, default_size, process_options
from deskmcp.servers.calculator.worker import DONE, frame
from hostpipes import deskmcp_command, pipe_server

CALCULATOR = deskmcp_command("calculator")
HEAVY = "3248!"  # ~2 ms of big-integer work, estimated over the loop's 1 ms slice
LONG = "+".join(["comb(33000, 16500)"] * 300)  # ~16 s of estimated arithmetic: allowed with the setting below
LONG_ENV = {"DESKMCP_CALCULATOR_TIME_LIMIT_MS": "60000"}


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children(pid: int) -> list[int]:
    """Live child processes of `pid`."""
    if not Path("/proc/self/stat").exists():
        pytest.skip("processes are inspected through /proc, which only Linux has")
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            if fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    fields = _stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until(condition: Any, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def workers_of(server: Any) -> list[int]:
    return children(server.process.pid)


def test_cheap_calls_stay_in_the_server_and_heavy_ones_share_one_worker() -> None:
    with pipe_server(CALCULATOR) as server:
        server.initialize()
        for expression in ("1+1", "2**64 / 3", "sqrt(2) * pi", "1/3 > 0.333"):
            assert not server.call_tool("calculate", {"expression": expression}).get("isError")
        assert workers_of(server) == [], "a cheap call started a worker"
        first = server.call_tool("calculate", {"expression": HEAVY})
        assert first["structuredContent"]["exact"] is True and first["structuredContent"]["decimal"].endswith("e+9997")
        [worker] = workers_of(server)
        fields = _stat(worker)
        assert fields is not None and int(fields[16]) == 10, "the worker does not run below the server's priority"
        stats = server.call_tool("statistics", {"data": [str(n) for n in range(500)]})  # 500 values: heavy too
        assert stats["structuredContent"]["median"]["value"] == "249.5"
        assert workers_of(server) == [worker], "the worker was not reused"
        assert server.close() == 0
    assert "Traceback" not in server.stderr


def test_a_cancelled_calculation_ends_its_worker_at_once() -> None:
    with pipe_server(CALCULATOR, env=LONG_ENV) as server:
        server.initialize()
        request = server.send_request("tools/call", {"name": "calculate", "arguments": {"expression": LONG}})
        wait_until(lambda: len(workers_of(server)) == 1, what="the worker to start")
        [worker] = workers_of(server)
        wait_until(lambda: cpu_seconds(worker) > 0.3, what="the calculation to start")
        server.notify("notifications/cancelled", {"requestId": request, "reason": "user"})
        # A worker that finished its job would stay alive for the next one: gone means it was ended.
        wait_until(lambda: not alive(worker), timeout=15, what="the worker to end")
        assert server.call_tool("calculate", {"expression": "6*7"})["structuredContent"]["value"] == "42"
        again = server.call_tool("calculate", {"expression": HEAVY})  # a fresh worker
        assert again["structuredContent"]["exact"] is True
        assert [pid for pid in workers_of(server) if pid != worker]
        assert server.close() == 0
    assert all(json.loads(line).get("id") != request for line in server.raw_stdout.splitlines())
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize("ending", ["end of input", "SIGTERM", "SIGKILL"])
def test_no_worker_outlives_the_server(ending: str) -> None:
    """Whether the host closes stdin, asks the server to stop, or kills it mid-calculation."""
    with pipe_server(CALCULATOR, env=LONG_ENV) as server:
        server.initialize()
        server.call_tool("calculate", {"expression": HEAVY})
        [worker] = workers_of(server)
        if ending == "SIGKILL":  # the worker is busy, not waiting on its stdin
            server.send_request("tools/call", {"name": "calculate", "arguments": {"expression": LONG}})
            wait_until(lambda: cpu_seconds(worker) > 0.3, what="the calculation to start")
            server.process.kill()
        elif ending == "SIGTERM":
            server.process.send_signal(signal.SIGTERM)
        assert server.close() == (-signal.SIGKILL if ending == "SIGKILL" else 0)
        wait_until(lambda: not alive(worker), timeout=10, what=f"the worker to end after {ending}")


def test_in_flight_work_is_bounded() -> None:
    """One long job per worker runs, MAX_WAITING wait, and the rest are refused at once as busy."""
    size = default_size()
    sent = size + MAX_WAITING + 5
    with pipe_server(CALCULATOR, env=LONG_ENV) as server:
        server.initialize()
        arguments = {"name": "calculate", "arguments": {"expression": LONG}}
        requests = [server.send_request("tools/call", arguments) for _ in range(sent)]
        refused = [server.response(request, timeout=30) for request in requests[-5:]]
        for reply in refused:
            assert reply["result"]["content"][0]["text"].startswith(f"{BUSY}: "), reply
        assert len(workers_of(server)) <= size
        assert server.call_tool("calculate", {"expression": "6*7"})["structuredContent"]["value"] == "42"
        workers = workers_of(server)
        server.kill()
        for worker in workers:
            wait_until(lambda worker=worker: not alive(worker), timeout=10, what="the workers to end")


@pytest.mark.anyio
async def test_the_wall_clock_ends_a_worker_that_overruns() -> None:
    """A cost model that is badly wrong: the pool stops the worker; the next job gets a fresh one."""
    silent = [sys.executable, "-c", "import sys, time; sys.stdin.buffer.read(1); time.sleep(600)"]
    pool = WorkerPool(1, command=silent)
    job = ("calculate", {"expression": "1"})
    with pytest.raises(CalculationError) as caught:
        await pool.run(job, size_bytes=1, wall_clock_s=0.0)  # plus the pool's grace of a second
    assert caught.value.kind == TIME_LIMIT and "was stopped" in str(caught.value)
    assert pool.idle == [] and not pool.busy
    await pool.close()


@pytest.mark.anyio
async def test_a_worker_that_dies_is_reported_and_replaced() -> None:
    dying = [sys.executable, "-c", "import os; os._exit(3)"]
    pool = WorkerPool(1, command=dying)
    for _ in range(2):
        with pytest.raises(CalculationError) as caught:
            await pool.run(("calculate", {}), size_bytes=1, wall_clock_s=30)
        assert caught.value.kind == WORKER and "exit code 3" in caught.value.detail
    await pool.close()


@pytest.mark.anyio
async def test_a_job_that_fails_in_the_worker_is_an_error_and_the_worker_serves_on() -> None:
    """A fault in the calculation code (here, a job without its limits) is logged there, not a dead worker."""
    pool = WorkerPool(1)
    with pytest.raises(RuntimeError, match="the calculation worker failed: KeyError: 'limits'"):
        await pool.run(("calculate", {}), size_bytes=1, wall_clock_s=30)
    [worker] = pool.idle
    assert (await pool.run(JOB, size_bytes=1, wall_clock_s=30)).value == "1024"
    assert pool.idle == [worker]
    await pool.close()


@pytest.mark.anyio
async def test_the_pool_refuses_past_its_bounds() -> None:
    """Waiting jobs are bounded in number and in the bytes they carry."""
    silent = [sys.executable, "-c", "import sys, time; sys.stdin.buffer.read(1); time.sleep(600)"]
    pool = WorkerPool(1, max_waiting=2, max_pending_bytes=1000, command=silent)
    outcomes: list[str] = []

    async def submit(size_bytes: int) -> None:
        try:
            await pool.run(("calculate", {}), size_bytes=size_bytes, wall_clock_s=60)
        except CalculationError as error:
            outcomes.append(error.kind)

    async with anyio.create_task_group() as group:
        for _ in range(3):  # one runs, two wait
            group.start_soon(submit, 10)
        with anyio.fail_after(30):
            while not pool.busy:  # the first job's worker is starting
                await anyio.sleep(0.01)
        await submit(10)  # a third waiting job
        await submit(990)  # within the count, but over the bytes
        assert outcomes == [BUSY, BUSY]
        assert len(pool.busy) == 1 and pool.waiting == 2
        group.cancel_scope.cancel()
    assert not pool.busy and pool.idle == []  # the cancelled running job's worker was ended
    await pool.close()


def ask(command: list[str] | tuple[str, ...], job: object, cwd: Path | None = None) -> tuple[Any, bytes]:
    """Send one job frame to a worker started with `command`; the reply, and its stderr once its stdin ends.

    Its stdin stays open until the reply is read: at the end of its input a worker stops at once."""
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd)
    assert process.stdin and process.stdout
    try:
        process.stdin.write(frame(job))
        process.stdin.flush()
        size = int.from_bytes(process.stdout.read(4), "little")
        reply = pickle.loads(process.stdout.read(size))
        process.stdin.close()
        assert process.stdout.read() == b""  # one frame and nothing else
        assert process.stderr is not None
        stderr = process.stderr.read()
        assert process.wait(60) == 0, stderr
        return reply, stderr
    finally:
        if process.poll() is None:
            process.kill()


JOB = ("calculate", {"expression": "2**10", "precision": 15, "variables": {}, "base": 10, "limits": Limits()})


def test_the_worker_cannot_be_shadowed_from_its_working_directory(tmp_path: Path) -> None:
    shadow = tmp_path / "deskmcp"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise SystemExit('the working directory was imported')\n")
    (kind, answer), _ = ask(WORKER_COMMAND, JOB, cwd=tmp_path)
    assert (kind, answer.value) == (DONE, "1024")


def test_the_worker_imports_the_arithmetic_alone() -> None:
    """Not the MCP SDK (a second of start-up that `deskmcp.servers.calculator` defers for it), nor mpmath."""
    code = (
        "import sys; from deskmcp.servers.calculator import worker; "
        "print(sorted({name.split('.')[0] for name in sys.modules} & {'mcp', 'pydantic', 'anyio', 'mpmath'}))"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_a_stray_print_in_the_worker_goes_to_stderr() -> None:
    printing = (
        "import deskmcp.servers.calculator.worker as worker; reply = worker.reply_to; "
        "worker.reply_to = lambda job: (print('stray print'), reply(job))[1]; worker.main()"
    )
    (kind, answer), stderr = ask([sys.executable, "-c", printing], JOB)
    assert (kind, answer.value) == (DONE, "1024")
    assert b"stray print" in stderr


def test_worker_start_options_per_platform() -> None:
    # CREATE_NO_WINDOW (no console flashes) | BELOW_NORMAL_PRIORITY_CLASS (the event loop wins the CPU)
    assert process_options("win32") == {"creationflags": 0x08000000 | 0x00004000}
    assert process_options("darwin") == {} and process_options("linux") == {}
    assert 1 <= default_size() <= 4
