"""faceproof._cv.NetPool: at most `size` network copies, each used by one thread at a time."""

from __future__ import annotations

import threading
import time

import pytest

from faceproof._cv import NetPool


def test_pool_bounds_copies_and_lends_each_to_one_thread():
    made = []
    busy: set[int] = set()
    peak = [0]
    guard = threading.Lock()

    def create():
        made.append(object())
        return made[-1]

    pool = NetPool(create, 2)
    assert pool.first() is made[0] and len(made) == 1

    def work():
        for _ in range(20):
            with pool.borrow() as net:
                with guard:
                    assert id(net) not in busy  # never lent twice at once
                    busy.add(id(net))
                    peak[0] = max(peak[0], len(busy))
                time.sleep(0.001)
                with guard:
                    busy.discard(id(net))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 2 and peak[0] == 2


def test_a_failed_copy_frees_its_slot():
    calls = [0]

    def create():
        calls[0] += 1
        if calls[0] == 1:
            raise RuntimeError("load failed")
        return "net"

    pool = NetPool(create, 1)
    with pytest.raises(RuntimeError):
        with pool.borrow():
            pass
    with pool.borrow() as net:
        assert net == "net"
