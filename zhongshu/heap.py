"""Start-up objects out of the garbage collector's way, in the long-running processes.

The API and the worker build large, permanent object graphs at start (FastAPI's routes, pydantic
models, SQLAlchemy tables, today's divisions and their centroids): about 200,000 objects, and a
full collection of them took ≈ 100 ms here. CPython runs one every so many allocations, so under
load one request or workflow task in a few hundred waited that long (the accept p99 at 100/s).
``gc.freeze()`` after start-up moves them to a permanent generation the collector no longer scans;
what is allocated later is collected as before. Only the processes' own entry points call it —
apps and workers that tests make in-process leave the heap alone.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("zhongshu.heap")


def freeze_startup_heap() -> int:
    """Collect once, then freeze what survives; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("start-up heap frozen: %d objects out of the collector's scans", frozen)
    return frozen
