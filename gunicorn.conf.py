"""gunicorn's settings for ARPilot, read from the working directory by default
(``gunicorn arpilot.wsgi:application`` run from the project root; command-line options
such as ``--workers`` and ``--threads`` still apply on top).

Each worker, once it has loaded the application, imports every view (the URLconf) and then
moves everything loaded so far out of the garbage collector's reach (``gc.freeze()``). The
application's modules, classes and compiled statements live as long as the process, yet
each full collection walked them all again: 60-90 ms with the GIL held every ~150 requests,
during which every thread of the worker stood still (measured in process: the slowest of
300 invoice lists 94-109 ms with it, 24-29 ms frozen; full collections 3-8 ms). Importing the
views here also takes the cost of the first request's imports (~270 ms) off a client, and
reading Babel's currency data here that of the first invoice's (~0.1-0.2 s, GIL held).
"""

import gc
import os


def _cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# One worker process per core, eight threads each (``WEB_CONCURRENCY`` and
# ``GUNICORN_THREADS`` override; ``--workers``/``--threads`` on the command line win over
# both). A request spends a good part of its time waiting on PostgreSQL, so threads overlap
# those waits; more processes than cores only make them take turns on the cores. On the
# 2-core bench box (bench/README.md, "API under load") 2 x 8 served as many requests a second
# as 4 x 4 with 7-10 % less CPU per request and a lower 95th percentile for every kind.
workers = int(os.environ.get("WEB_CONCURRENCY") or _cores())
threads = int(os.environ.get("GUNICORN_THREADS") or 8)


def post_worker_init(worker):
    from django.urls import get_resolver

    from arpilot.currencies import currency_places

    get_resolver().url_patterns  # noqa: B018 - imports every view and serializer now
    currency_places("USD")  # Babel unpickles its global data on first use (~0.1-0.2 s)
    gc.collect()
    gc.freeze()
