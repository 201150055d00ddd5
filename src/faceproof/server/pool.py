"""A bounded pool of inference workers with a bounded wait queue.

Each worker is a set of independent faceproof clients (their own detector and model
instances, hence their own locks), so ``size`` requests run truly in parallel (OpenCV and
ONNX Runtime release the GIL). A request first asks for admission: when ``size +
max_queue`` requests are already admitted it is refused at once with
:class:`~faceproof.errors.Overloaded` (503 + Retry-After) instead of piling up. An
admitted request waits for a free worker until its deadline, then runs on the pool's
threads. A request whose deadline passes while it runs is answered 503, but its worker
stays counted as busy until the computation really ends, so the bound always holds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from ..errors import Overloaded

__all__ = ["InferencePool"]

W = TypeVar("W")
T = TypeVar("T")


class InferencePool(Generic[W]):
    def __init__(self, workers: Sequence[W], max_queue: int) -> None:
        if not workers:
            raise ValueError("an inference pool needs at least one worker")
        if max_queue < 0:
            raise ValueError("max_queue must be >= 0")
        self.workers: tuple[W, ...] = tuple(workers)
        self.size = len(self.workers)
        self.max_queue = int(max_queue)
        self.capacity = self.size + self.max_queue
        self._idle: deque[W] = deque(self.workers)
        self._waiters: deque[asyncio.Future[W]] = deque()
        self._admitted = 0
        self._busy = 0
        self._executor = ThreadPoolExecutor(max_workers=self.size, thread_name_prefix="faceproof-infer")
        self._service_ms = 100.0  # moving average of one computation, for Retry-After
        self.completed = 0
        self.rejected = 0
        self.timed_out = 0

    # ------------------------------------------------------------------ state

    @property
    def busy(self) -> int:
        """Workers computing right now (including runs whose requests already timed out)."""
        return self._busy

    @property
    def queued(self) -> int:
        """Admitted requests waiting for a worker."""
        return self._admitted - self._busy

    def retry_after(self) -> int:
        """Seconds after which a refused client may reasonably retry (at least 1)."""
        backlog = self._admitted + 1
        return max(1, min(60, math.ceil(backlog * self._service_ms / self.size / 1000.0)))

    def stats(self) -> dict[str, float | int]:
        return {
            "workers": self.size,
            "busy": self.busy,
            "queued": self.queued,
            "max_queue": self.max_queue,
            "completed": self.completed,
            "rejected": self.rejected,
            "timed_out": self.timed_out,
            "mean_service_ms": round(self._service_ms, 1),
        }

    # ------------------------------------------------------------------ running work

    async def run(self, fn: Callable[[W], T], *, deadline: float) -> tuple[T, float]:
        """``fn(worker)`` on a free worker's thread; returns (result, ms spent waiting).

        ``deadline`` is in the event loop's clock (``loop.time()``). Raises
        :class:`Overloaded` when the queue is full, when no worker frees up before the
        deadline, or when the computation does not end before it.
        """
        if self._admitted >= self.capacity:
            self.rejected += 1
            raise Overloaded(
                f"the server is busy ({self.size} running, {self.queued} waiting); retry later",
                retry_after=self.retry_after(),
            )
        loop = asyncio.get_running_loop()
        self._admitted += 1
        handed_off = False
        try:
            start = loop.time()
            worker = await self._acquire(deadline)
            waited_ms = (loop.time() - start) * 1000.0
            self._busy += 1
            future = loop.run_in_executor(self._executor, self._timed, fn, worker)
            handed_off = True
            future.add_done_callback(lambda _f: self._release(worker))
            try:
                async with asyncio.timeout_at(deadline):
                    result = await asyncio.shield(future)
            except TimeoutError:
                self.timed_out += 1
                raise Overloaded(
                    "the request did not finish within the request timeout; retry later",
                    retry_after=self.retry_after(),
                ) from None
            self.completed += 1
            return result, waited_ms
        finally:
            if not handed_off:
                self._admitted -= 1

    async def run_on_all(self, fn: Callable[[W], object]) -> None:
        """``fn(worker)`` on every worker at once, e.g. the warm-up before the service
        takes requests (all workers must be idle)."""
        if len(self._idle) != self.size:
            raise RuntimeError("run_on_all needs every worker idle")
        loop = asyncio.get_running_loop()
        workers = list(self._idle)
        self._idle.clear()
        try:
            await asyncio.gather(*(loop.run_in_executor(self._executor, fn, w) for w in workers))
        finally:
            for worker in workers:
                self._give(worker)

    def _timed(self, fn: Callable[[W], T], worker: W) -> T:
        start = time.perf_counter()
        try:
            return fn(worker)
        finally:
            elapsed = (time.perf_counter() - start) * 1000.0
            self._service_ms = 0.9 * self._service_ms + 0.1 * elapsed

    async def _acquire(self, deadline: float) -> W:
        if self._idle and not self._waiters:
            return self._idle.popleft()
        waiter: asyncio.Future[W] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():
                # a worker was handed over just as this request gave up: pass it on
                self._give(waiter.result())
            else:
                waiter.cancel()
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass
            if isinstance(exc, TimeoutError):
                self.timed_out += 1
                raise Overloaded(
                    "no inference worker became free within the request timeout; retry later",
                    retry_after=self.retry_after(),
                ) from None
            raise

    def _release(self, worker: W) -> None:
        """Called on the event loop when a computation ends: hand the worker to the next
        waiter, or park it."""
        self._busy -= 1
        self._admitted -= 1
        self._give(worker)

    def _give(self, worker: W) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self._idle.append(worker)

    def shutdown(self) -> None:
        """Stop accepting work; running computations finish, queued ones are dropped."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
