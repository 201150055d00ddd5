"""The engines that run a batch's tasks on workers that each hold one pipeline.

Both yield ``(records, memory)`` as work finishes: a list of output records (one per
task, in no particular order) and ``{worker: peak RSS in MB}`` of the workers that made
them. Writing the output is the caller's job (:mod:`faceproof.batch.output`), so both
engines share one resume and one exactly-once rule.

* :func:`local_engine`: a process pool (``spawn``), one :class:`~faceproof.batch.operations.Worker`
  per process built by the pool's initializer, one OpenCV thread each. A worker that dies
  (segfault, OOM kill) breaks the pool: the rows that were in flight are then tried
  again alone, one at a time, in a one-worker pool; a row that kills its worker there is
  recorded as ``worker_crashed`` instead of being tried forever; then a new pool goes on.
  Ctrl-C (SIGINT) is recorded by a handler and raised as ``KeyboardInterrupt`` only where
  the engine waits (every 0.2 s): raised asynchronously inside ``concurrent.futures.wait``
  it could leave a waiter's lock held, and the pool's manager thread, blocked on it, then
  hung the interpreter's exit for good.
* :func:`ray_engine`: Ray Data, ``map_batches`` over an actor pool of ``workers`` actors,
  each holding one Worker (``faceproof[ray]``). ``address`` joins an existing cluster;
  without it a local Ray instance with ``workers`` CPUs is started and shut down at the end.
"""

from __future__ import annotations

import json
import logging
import math
import resource
import signal
import sys
import threading
from collections import deque
from collections.abc import Generator, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from ..errors import BackendUnavailable, InvalidArgument
from .operations import Worker, WorkerSpec, error_record

__all__ = ["ENGINES", "local_engine", "ray_engine"]

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")
Batch = tuple[list[dict[str, Any]], dict[str, float]]


def _peak_rss_mb() -> float:
    """This process's peak resident memory. Linux: ``VmHWM`` (of this process image: a
    spawned worker's ``ru_maxrss`` starts at its parent's, it survives ``exec``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024.0 if sys.platform != "darwin" else kb / (1024.0 * 1024.0)


# ----------------------------------------------------------------------------- local pool

_WORKER: Worker | None = None


def _init_local(spec: WorkerSpec) -> None:
    # Ctrl-C goes to the whole process group: the parent handles it (it writes what is
    # finished and stops the pool); a worker just finishes its chunk
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _WORKER
    _WORKER = Worker(spec)
    _WORKER.warmup()


def _run_local(tasks: list[dict[str, Any]]) -> Batch:
    assert _WORKER is not None, "worker not initialised"
    records = _WORKER.process_many(tasks)
    return records, {_WORKER.name: _peak_rss_mb()}


#: how often a waiting engine looks at a recorded Ctrl-C
_POLL_S = 0.2


@contextmanager
def _sigint_deferred() -> Iterator[threading.Event]:
    """While open (in the main thread), SIGINT only sets the event it yields; the engine
    raises ``KeyboardInterrupt`` itself where it is safe (see the module doc)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, lambda _signum, _frame: interrupted.set())
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def _check(interrupted: threading.Event) -> None:
    if interrupted.is_set():
        raise KeyboardInterrupt


def _pool(spec: WorkerSpec, workers: int) -> ProcessPoolExecutor:
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_local, initargs=(spec,))


def _pooled(
    spec: WorkerSpec, queue: deque[list[dict[str, Any]]], workers: int, interrupted: threading.Event
) -> Generator[Batch, None, list[dict[str, Any]]]:
    """Chunks from ``queue`` on one pool until it is empty or a worker dies; returns the
    rows that were in flight when it died."""
    pool = _pool(spec, workers)
    inflight: dict[Future[Batch], list[dict[str, Any]]] = {}
    lost: list[dict[str, Any]] = []
    try:
        while queue or inflight:
            while queue and len(inflight) < 2 * workers:
                part = queue.popleft()
                try:
                    inflight[pool.submit(_run_local, part)] = part
                except BrokenProcessPool:  # a worker died since the last wait: the pool takes no more
                    queue.appendleft(part)  # never started: back to the queue, for the next pool
                    for taken in inflight.values():
                        lost.extend(taken)
                    inflight.clear()
                    return lost
            finished, _ = wait(inflight, timeout=_POLL_S, return_when=FIRST_COMPLETED)
            _check(interrupted)
            for fut in finished:
                part = inflight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    lost.extend(part)
                    continue
                yield result
            if lost:
                for part in inflight.values():
                    lost.extend(part)
                inflight.clear()
                return lost
        return lost
    finally:
        pool.shutdown(wait=not lost and not inflight, cancel_futures=True)


def _isolated(spec: WorkerSpec, suspects: deque[dict[str, Any]], interrupted: threading.Event) -> Iterator[Batch]:
    """Rows that were in flight when a worker died, alone in a one-worker pool, one at a
    time: a row that kills its worker here is the culprit and gets ``worker_crashed``."""
    pool = _pool(spec, 1)
    try:
        while suspects:
            task = suspects.popleft()
            try:
                future = pool.submit(_run_local, [task])
                while True:
                    try:
                        result = future.result(timeout=_POLL_S)
                        break
                    except FutureTimeout:
                        _check(interrupted)
                yield result
            except BrokenProcessPool:
                msg = "the worker process died while processing this row alone (crash or out of memory)"
                yield [error_record(task, spec.operation, "worker_crashed", msg)], {}
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _pool(spec, 1)
    finally:
        pool.shutdown(wait=not suspects, cancel_futures=True)


def local_engine(spec: WorkerSpec, tasks: list[dict[str, Any]], *, workers: int = 2, chunk: int = 4) -> Iterator[Batch]:
    """Run ``tasks`` on a pool of ``workers`` processes (see the module doc)."""
    if workers < 1:
        raise InvalidArgument("workers must be >= 1")
    queue: deque[list[dict[str, Any]]] = deque(tasks[i : i + chunk] for i in range(0, len(tasks), chunk))
    with _sigint_deferred() as interrupted:
        while queue:
            lost = yield from _pooled(spec, queue, workers, interrupted)
            if lost:
                logger.warning(
                    "a worker process died; retrying the %d rows it may have taken, one at a time", len(lost)
                )
                yield from _isolated(spec, deque(lost), interrupted)


# ----------------------------------------------------------------------------- Ray Data


class _RayWorker:
    """A Ray Data actor: one Worker (one pipeline) for its lifetime."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.worker = Worker(spec)
        self.worker.warmup()

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        tasks = [json.loads(str(s)) for s in batch["task"]]
        records = self.worker.process_many(tasks)
        rss = _peak_rss_mb()
        return {
            "record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object),
            "worker": np.array([self.worker.name] * len(records), dtype=object),
            "rss_mb": np.full(len(records), rss, dtype=np.float64),
        }


def ray_engine(
    spec: WorkerSpec,
    tasks: list[dict[str, Any]],
    *,
    workers: int = 2,
    chunk: int = 4,
    address: str | None = None,
) -> Iterator[Batch]:
    """Run ``tasks`` on Ray Data with an actor pool of ``workers`` (see the module doc)."""
    try:
        import numpy as np  # noqa: F401
        import ray
        import ray.data
    except ImportError as exc:
        raise BackendUnavailable(f"--engine ray needs Ray Data: pip install 'faceproof[ray]' ({exc})") from None
    if workers < 1:
        raise InvalidArgument("workers must be >= 1")
    started = False
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
        if address:
            options["address"] = address
        else:
            options["num_cpus"] = workers
        ray.init(**options)
        started = True
    try:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the job has its own progress
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        items = [{"row": int(t["row"]), "task": json.dumps(t)} for t in tasks]
        blocks = max(1, min(len(items), math.ceil(len(items) / chunk)))
        ds: Any = ray.data.from_items(items, override_num_blocks=blocks)
        ds = ds.map_batches(
            _RayWorker,
            fn_constructor_kwargs={"spec": spec},
            batch_size=chunk,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            records = [json.loads(str(s)) for s in batch["record"]]
            memory = {str(w): float(m) for w, m in zip(batch["worker"], batch["rss_mb"], strict=True)}
            yield records, memory
    finally:
        if started:
            ray.shutdown()
