"""zhongshu/heap.py: the start-up heap leaves the collector's scans (and comes back in this test)."""

from __future__ import annotations

import gc

from zhongshu.heap import freeze_startup_heap


def test_freezing_moves_the_live_objects_out_of_the_collectors_scans():
    try:
        frozen = freeze_startup_heap()
        # this process's modules alone are thousands (the count only falls as frozen objects are freed)
        assert frozen > 1000 and 0 < gc.get_freeze_count() <= frozen
        assert sum(len(gc.get_objects(generation=g)) for g in range(3)) < frozen
    finally:
        gc.unfreeze()  # the rest of the suite runs with an ordinary heap
    assert gc.get_freeze_count() == 0
