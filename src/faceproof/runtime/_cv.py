"""Small OpenCV helpers shared by the backends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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
