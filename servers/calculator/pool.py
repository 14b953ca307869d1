"""The server's side of the worker processes: started on first need, reused, stopped with the server.

A request the event loop cannot afford (see `limits.Offload`) is sent to an idle worker, or waits for one.
What is in flight is bounded: at most `size` jobs run (one per worker) and at most `max_waiting` wait, with at
most `max_pending_bytes` of arguments among them; past that a request is refused at once as busy. A job that
is cancelled, or runs past its wall clock (a cost model that is badly wrong), ends its worker on the spot:
the next job starts a fresh one. Closing the pool (the server's lifespan) ends them all.

Workers are plain subprocesses of `sys.executable` (a fresh interpreter on every OS, as multiprocessing's
`spawn` start method gives); on Windows they get no console window.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream
from deskmcp.servers.calculator.errors import BUSY, TIME_LIMIT, WORKER, CalculationError
from deskmcp.servers.calculator.worker import DONE, REFUSED, Job, frame

logger = logging.getLogger(__name__)

# `-c` rather than `-m`: `-m` would put the working directory first on sys.path, so a folder named `deskmcp`
# there could stand in for ours. The `-c` entry ('' for the working directory) is removed the same way.
WORKER_COMMAND: Final = (
    sys.executable,
    "-c",
    "import sys; sys.path[:1] = [p for p in sys.path[:1] if p]; "
    "from deskmcp.servers.calculator.worker import main; main()",
)
_CREATE_NO_WINDOW: Final = 0x08000000
_BELOW_NORMAL_PRIORITY_CLASS: Final = 0x00004000
KILL_GRACE_S: Final = 1.0  # past the worker's own wall clock (which ends the job with a clear message)
MAX_WAITING: Final = 64
MAX_PENDING_BYTES: Final = 64 * 1024 * 1024


def default_size() -> int:
    """One worker per spare core, leaving one for the event loop; at least one, at most four."""
    return max(1, min(4, (os.cpu_count() or 2) - 1))


def process_options(platform: str = sys.platform) -> dict[str, Any]:
    """Keyword arguments for starting a worker. On Windows: no console window (hosts start us without one),
    and a priority below normal, so the event loop wins the CPU when both want it (elsewhere the worker
    lowers its own, see `worker.main`)."""
    if platform == "win32":
        return {"creationflags": _CREATE_NO_WINDOW | _BELOW_NORMAL_PRIORITY_CLASS}
    return {}


class Worker:
    """One worker process and its two pipes."""

    def __init__(self, process: Process) -> None:
        self.process = process
        assert process.stdout is not None
        self.replies = BufferedByteReceiveStream(process.stdout)

    async def call(self, job: Job) -> tuple[str, Any]:
        assert self.process.stdin is not None
        try:
            await self.process.stdin.send(frame(job))
            size = int.from_bytes(await self.replies.receive_exactly(4), "little")
            return pickle.loads(await self.replies.receive_exactly(size))
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, anyio.ClosedResourceError):
            code = await self.process.wait()
            detail = f"the worker process stopped unexpectedly (exit code {code}); the server log may say why."
            raise CalculationError(WORKER, detail) from None

    async def stop(self) -> None:
        """End the process now and reap it (shielded: this runs while a cancellation is under way)."""
        with anyio.CancelScope(shield=True):
            if self.process.returncode is None:
                self.process.kill()
            await self.process.aclose()  # closes the pipes, then waits for the exit


class WorkerPool:
    def __init__(
        self,
        size: int | None = None,
        *,
        max_waiting: int = MAX_WAITING,
        max_pending_bytes: int = MAX_PENDING_BYTES,
        command: Sequence[str] = WORKER_COMMAND,
    ) -> None:
        self.size = size or default_size()
        self.max_waiting = max_waiting
        self.max_pending_bytes = max_pending_bytes
        self.command = list(command)
        self.idle: list[Worker] = []
        self.busy: set[Worker] = set()
        self.waiting = 0
        self.pending_bytes = 0
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the event loop

    async def run(self, job: Job, *, size_bytes: int, wall_clock_s: float) -> Any:
        """The job's result from a worker; its `CalculationError` is raised here."""
        self._admit(size_bytes)
        self.pending_bytes += size_bytes
        try:
            kind, payload = await self._run(job, wall_clock_s + KILL_GRACE_S)
        finally:
            self.pending_bytes -= size_bytes
        if kind == DONE:
            return payload
        if kind == REFUSED:
            raise payload
        raise RuntimeError(f"the calculation worker failed: {payload}")

    def _admit(self, size_bytes: int) -> None:
        if self.waiting >= self.max_waiting or self.pending_bytes + size_bytes > self.max_pending_bytes:
            detail = (
                f"{self.waiting + len(self.busy)} heavy calculations are already in progress or waiting; try again "
                "in a moment, or ask for less at once."
            )
            raise CalculationError(BUSY, detail)

    async def _run(self, job: Job, wall_clock_s: float) -> tuple[str, Any]:
        if self._slots is None:
            self._slots = anyio.Semaphore(self.size)
        try:
            self._slots.acquire_nowait()
        except anyio.WouldBlock:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
        try:
            worker = self.idle.pop() if self.idle else await self._start()
            self.busy.add(worker)
            try:
                with anyio.fail_after(wall_clock_s):
                    reply = await worker.call(job)
            except BaseException as error:  # cancelled, out of time, or the worker died: it is not reused
                self.busy.discard(worker)
                await worker.stop()
                if isinstance(error, TimeoutError):
                    detail = f"the calculation ran past its wall clock of {wall_clock_s:.1f} s and was stopped."
                    raise CalculationError(TIME_LIMIT, detail) from None
                raise
            self.busy.discard(worker)
            self.idle.append(worker)
            return reply
        finally:
            self._slots.release()

    async def _start(self) -> Worker:
        process = await anyio.open_process(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, **process_options()
        )
        logger.info("calculation worker started (pid %d)", process.pid)
        return Worker(process)

    async def close(self) -> None:
        """End every worker now (the jobs of busy ones are being cancelled with the server)."""
        workers, self.idle = [*self.idle, *self.busy], []
        self.busy.clear()
        with anyio.CancelScope(shield=True):
            for worker in workers:
                await worker.stop()

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.close()
