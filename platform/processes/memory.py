"""Python's garbage collector in the long-running processes: the API server and the worker.

Measured in the load run (bench/load), with CPython's defaults the API server's full
collections stopped it 16 times in 80 seconds, for 69 ms at the median and 205 ms at most,
and its collections of every generation took 2.4 s of its CPU. Most of that was walking
what start-up built and nothing frees until the process ends (modules, the GraphQL schema,
the plugins, the models). `settle` leaves those out of every later collection, and lets
many more objects be allocated between two collections of the youngest generation: in
the same run, at the default (700) the API server made 1,837 of those (0.8 s of its CPU),
at 10,000 it made 370 (0.03 s), most of a request's objects being gone by then.
"""

from __future__ import annotations

import gc

# Allocations (less deallocations) between two collections of the youngest generation.
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Once the process has started: collect what start-up left, move everything still
    alive out of the collector's sight (`gc.freeze`), and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
