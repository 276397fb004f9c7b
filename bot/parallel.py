"""`ordered_map`: a function over many items in several forked processes, results in item order.

The items are split into tasks (runs of consecutive items), and this process and N - 1 forked
workers work through them. Forked, the workers start with everything imported and with the items,
the function and its arguments in memory: all they are sent is task numbers, through one pipe that
every process takes the next task from when it is free, and each sends its results back, pickled,
through its own pipe. This process works on tasks itself, taking in the workers' results between
its items, and yields every result in the order of the items. A plain fork and pipes, rather than
multiprocessing or concurrent.futures, which take 30 ms to import: `mountie check` starts in 70.

Only Linux forks (macOS has fork, but its system libraries do not survive it); elsewhere, and for
few items, everything runs in this process.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn, TypeVar, cast

if TYPE_CHECKING:
    import select
    from types import ModuleType

# Below this many items one process is faster. A worker costs about 10 ms of CPU time (the fork,
# and the pages of the parent it copies as it runs), while a Dockerfile takes about 0.5 ms to check
# (the corpus of bench/engine.py: 1,200 files, 2.5 MB). Measured on 2 idle CPUs, `check -f json`,
# whole processes, --jobs 1 against --jobs 2 (medians of 11 alternated runs; files spread over the
# corpus): 16 files 75.6 / 77.9 ms; 32 files 84.8 / 83.5 ms; 48 files 87.5 / 84.6 ms; 64 files
# 102.0 / 95.8 ms; 128 files 132.8 / 112.9 ms; all 1,200: 589 / 374 ms (CPU time 588 / 636 ms).
POOL_MIN_ITEMS = 32
# A task is 1 / (jobs * TASK_SHARE) of the items left, and at least MIN_TASK_ITEMS items: the last
# tasks are short, so no worker is left with a long one while the others have finished, and there
# are few of them (19 for 1,200 files and 2 processes): each costs a pipe round trip and a pickle.
TASK_SHARE = 2
MIN_TASK_ITEMS = 4
# Every task number (4 bytes) is written before the workers start, so they must fit in a pipe's
# buffer: a Linux pipe holds at least one page, 4 KiB (64 KiB by default).
MAX_TASKS = 1024

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class WorkerDiedError(Exception):
    """A worker process ended without sending all its results (killed, or crashed)."""


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask: taskset, a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _unchanged(result: object) -> object:
    return result


def ordered_map(
    work: Callable[[_Item], _Result],
    items: Sequence[_Item],
    jobs: int,
    *,
    here: Callable[[_Item], bool] = lambda item: False,
    portable: Callable[[_Result], object] = _unchanged,
) -> Iterator[_Result]:
    """`work(item)` for each item, in order: in this process, or with `jobs` > 1 and at least
    `POOL_MIN_ITEMS` items, in `jobs` processes. Items for which `here(item)` holds (standard
    input, say) are always worked on in this process. A worker sends `portable(result)` back
    (what the caller reads of a result, without what is costly to pickle). Raises
    `WorkerDiedError` when a worker dies."""
    shared = [item for item in items if not here(item)]
    if jobs <= 1 or len(shared) < POOL_MIN_ITEMS or not sys.platform.startswith("linux"):
        for item in items:
            yield work(item)
        return
    yield from _map_in_workers(work, items, shared, jobs, here=here, portable=portable)


def _map_in_workers(
    work: Callable[[_Item], _Result],
    items: Sequence[_Item],
    shared: list[_Item],
    jobs: int,
    *,
    here: Callable[[_Item], bool],
    portable: Callable[[_Result], object],
) -> Iterator[_Result]:
    import select
    import signal

    tasks = _tasks(shared, jobs)
    task_read, task_write = os.pipe()
    os.write(task_write, b"".join(index.to_bytes(4, "little") for index in range(len(tasks))))
    os.close(task_write)  # whoever finds the pipe empty is done
    # What is alive now stays shared with the workers, not copied page by page as their
    # collections touch it.
    gc.freeze()
    workers: dict[int, int] = {}  # result pipe -> pid
    results: dict[int, list[_Result]] = {}
    poller = select.poll()
    try:
        # Ctrl-C is held back while the workers start: they inherit that, then ignore it (the parent
        # stops them); one pressed meanwhile arrives right after.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for _ in range(min(jobs - 1, len(tasks) - 1)):  # this process is the last worker
                result_read, result_write = os.pipe()
                try:
                    pid = os.fork()
                except OSError:  # out of processes or memory: go on with the workers there are
                    os.close(result_read)
                    os.close(result_write)
                    break
                if pid == 0:
                    others = [result_read, *workers]
                    _worker(
                        work, tasks, portable, task_pipe=task_read, result_pipe=result_write, others=others
                    )
                os.close(result_write)
                workers[result_read] = pid
                poller.register(result_read, select.POLLIN)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        done: list[_Result] = []
        wanted = 0
        for item in items:
            if here(item):
                yield work(item)
                continue
            while not done and wanted not in results:
                index = os.read(task_read, 4) if task_read >= 0 else b""
                if not index:  # every task taken: wait for the workers'
                    if task_read >= 0:
                        os.close(task_read)
                        task_read = -1
                    _receive(poller, workers, results, None)
                    continue
                worked = []
                for task_item in tasks[int.from_bytes(index, "little")]:
                    worked.append(work(task_item))
                    if workers:  # take what the workers have sent, so none waits on a full pipe
                        _receive(poller, workers, results, 0)
                results[int.from_bytes(index, "little")] = worked
            if not done:
                done = results.pop(wanted)
                done.reverse()
                wanted += 1
            yield done.pop()
    finally:
        if task_read >= 0:
            os.close(task_read)
        for fd, pid in workers.items():  # still running only when stopped early (Ctrl-C)
            os.close(fd)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _tasks(items: list[_Item], jobs: int) -> list[list[_Item]]:
    """The items in runs, each a share of what is left (guided self-scheduling): the first runs are
    long, the last are short, so that the workers finish together."""
    tasks: list[list[_Item]] = []
    start = 0
    while start < len(items):
        left = len(items) - start
        size = max(-(-left // (jobs * TASK_SHARE)), MIN_TASK_ITEMS, -(-left // (MAX_TASKS - len(tasks))))
        tasks.append(items[start : start + size])
        start += size
    return tasks


def _receive(
    poller: select.poll, workers: dict[int, int], results: dict[int, list[_Result]], timeout: int | None
) -> None:
    """Store in `results` what the workers have sent (waiting up to `timeout` ms for something, or
    for as long as it takes); reap a worker that is done, raise WorkerDiedError for one that died."""
    if not workers:
        raise WorkerDiedError("the worker processes ended without finishing their work")
    for fd, _ in poller.poll(timeout):
        header = _read_exactly(fd, 12)
        payload = _read_exactly(fd, int.from_bytes(header[4:], "little")) if header else None
        if header is not None and payload is not None:
            results[int.from_bytes(header[:4], "little")] = cast(list[_Result], _pickle().loads(payload))
            continue
        poller.unregister(fd)
        os.close(fd)
        _, status = os.waitpid(workers.pop(fd), 0)
        if status != 0 or header is not None:
            raise WorkerDiedError(f"a worker process {_describe_status(status)}")


def _pickle() -> ModuleType:
    """The C pickler itself: the `pickle` module around it takes 1.5 ms more to import."""
    try:
        import _pickle

        return _pickle
    except ImportError:  # not CPython
        import pickle

        return pickle


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        import signal

        number = os.WTERMSIG(status)
        with contextlib.suppress(ValueError):
            return f"was killed by signal {number} ({signal.Signals(number).name})"
        return f"was killed by signal {number}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _read_exactly(fd: int, size: int) -> bytes | None:
    """`size` bytes from the pipe; None when it ends first (the worker is gone)."""
    parts: list[bytes] = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            return None
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _worker(
    work: Callable[[_Item], _Result],
    tasks: list[list[_Item]],
    portable: Callable[[_Result], object],
    *,
    task_pipe: int,
    result_pipe: int,
    others: list[int],
) -> NoReturn:
    """A worker process: work through the tasks it takes from `task_pipe` and send each one's
    results (task number, size, pickle) to `result_pipe`, until no task is left. Never returns."""
    import signal

    pickle = _pickle()
    code = 0
    kept: list[_Result] = []
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for fd in others:  # the parent's ends of the other workers' pipes
            os.close(fd)
        while index := os.read(task_pipe, 4):
            sent = []
            for item in tasks[int.from_bytes(index, "little")]:
                result = work(item)
                sent.append(portable(result))
                # The results stay alive (the worker exits without freeing them), so the collector
                # stops walking them; freeing them would cost a tenth of the run.
                kept.append(result)
                gc.freeze()
            payload = pickle.dumps(sent, protocol=5)
            _write_all(result_pipe, index + len(payload).to_bytes(8, "little"))
            _write_all(result_pipe, payload)
    except BrokenPipeError:  # the parent is gone
        code = 1
    except BaseException:
        code = 70
        with contextlib.suppress(BaseException):
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
    finally:
        os._exit(code)
