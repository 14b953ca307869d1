"""The worker process: runs the calculations the event loop cannot afford, where they cannot hold it up.

Big-integer arithmetic holds the GIL, so a thread would not keep the server answering; a process does. The
pool (`pool.py`) starts this module in a fresh interpreter (the `spawn` semantics of every OS) and sends it
jobs on its stdin; replies go back on its stdout pipe. Both are frames: a 4-byte little-endian length and a
pickle (both ends are this package: nothing else writes to these pipes).

- It imports only the arithmetic, not the MCP SDK, so it starts in tens of milliseconds.
- It never writes to the server's wire: its own stdout is a pipe to the server, and even that is moved to a
  private descriptor, with fd 1 and `sys.stdout` pointed at stderr, so a stray `print` cannot corrupt a frame.
- It dies with the server: the moment its stdin ends (the server closed it, exited, or was killed), a thread
  that waits on it ends the process, even in the middle of a calculation. SIGINT is ignored (a terminal's
  Ctrl-C reaches the whole process group; the server decides when its workers stop).
- It runs at a lower priority than the server (nice 10; on Windows the pool starts it below normal), so on a
  busy machine the event loop answering cheap calls gets the CPU first.
"""

from __future__ import annotations

import logging
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, Final

from deskmcp.servers.calculator.calculation import calculate
from deskmcp.servers.calculator.errors import CalculationError
from deskmcp.servers.calculator.limits import Budget
from deskmcp.servers.calculator.stats import summarize

logger = logging.getLogger(__name__)

JOBS: Final[dict[str, Callable[..., Any]]] = {"calculate": calculate, "statistics": summarize}
Job = tuple[str, dict[str, Any]]  # a name in JOBS and its keyword arguments (all but the budget)
DONE: Final = "done"
REFUSED: Final = "refused"
FAILED: Final = "failed"
_LENGTH_BYTES: Final = 4
NICENESS: Final = 10


def run_job(job: Job, budget: Budget) -> Any:
    name, arguments = job
    return JOBS[name](**arguments, budget=budget)


def reply_to(job: Job) -> tuple[str, Any]:
    """(DONE, result), (REFUSED, the CalculationError) or (FAILED, a message for the log): never raises."""
    try:
        return DONE, run_job(job, Budget(job[1]["limits"].time_limit_ms, on_loop=False))
    except CalculationError as error:
        return REFUSED, error
    except Exception as error:
        logger.exception("calculation worker: %s failed", job[0])
        return FAILED, f"{type(error).__name__}: {error}"


def frame(payload: object) -> bytes:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(_LENGTH_BYTES, "little") + data


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> bytes | None:
    header = _read_exactly(fd, _LENGTH_BYTES)
    return None if header is None else _read_exactly(fd, int.from_bytes(header, "little"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def claim_pipes() -> tuple[int, int]:
    """Private duplicates of stdin and stdout for the frames; fd 0 becomes the null device, fd 1 stderr."""
    read_fd, write_fd = os.dup(0), os.dup(1)  # not inheritable (PEP 446)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null_fd, 0)
        os.dup2(2, 1)
    finally:
        os.close(null_fd)
    sys.stdout = sys.stderr
    return read_fd, write_fd


def _receive_jobs(read_fd: int, jobs: queue.SimpleQueue[Job]) -> None:
    """Hand each job to the main thread; at the end of input, end the process whatever it is doing."""
    while (data := _read_frame(read_fd)) is not None:
        jobs.put(pickle.loads(data))
    os._exit(0)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="deskmcp calculator worker: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(os, "nice"):  # POSIX; Windows gets its priority class from the pool
        os.nice(NICENESS)
    read_fd, write_fd = claim_pipes()
    jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
    threading.Thread(target=_receive_jobs, args=(read_fd, jobs), name="stdin watch", daemon=True).start()
    while True:
        _write_all(write_fd, frame(reply_to(jobs.get())))


if __name__ == "__main__":
    main()
