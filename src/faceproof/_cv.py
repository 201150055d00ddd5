"""Small OpenCV helpers shared by the backends."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's log below ERROR while loading a network, then restore the level.

    OpenCV 5 warns on every network load that its new graph engine ignores compute
    targets; that line on stderr means nothing to users.
    """
    import cv2

    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


class NetPool:
    """Up to ``size`` copies of one OpenCV network, each used by one thread at a time.

    An OpenCV ``Net`` (or ``FaceDetectorYN``) is not safe to run from two threads at once,
    and OpenCV's own thread pool barely speeds up these small networks on a 2-core CPU; two
    copies let two images (a verify call's selfie and profile photo) run on two cores.
    The first copy is made by :meth:`first` (model load); more only when two callers overlap.
    """

    def __init__(self, create: Callable[[], Any], size: int) -> None:
        self._create = create
        self.size = max(1, int(size))
        self._free: list[Any] = []
        self._count = 0
        self._cond = threading.Condition()

    def first(self) -> Any:
        """Load the first copy if there is none yet; return a copy (for warm-up and checks)."""
        with self._cond:
            if self._count == 0:
                self._free.append(self._create())
                self._count = 1
            return self._free[0] if self._free else None

    @contextmanager
    def borrow(self) -> Iterator[Any]:
        with self._cond:
            while not self._free and self._count >= self.size:
                self._cond.wait()
            net = self._free.pop() if self._free else None
            if net is None:
                self._count += 1
        if net is None:
            try:
                net = self._create()
            except BaseException:
                with self._cond:
                    self._count -= 1
                    self._cond.notify()
                raise
        try:
            yield net
        finally:
            with self._cond:
                self._free.append(net)
                self._cond.notify()
