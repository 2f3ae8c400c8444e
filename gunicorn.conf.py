"""gunicorn's settings for ARPilot, read from the working directory by default
(``gunicorn arpilot.wsgi:application`` run from the project root; command-line options
such as ``--workers`` and ``--threads`` still apply on top).

Each worker, once it has loaded the application, imports every view (the URLconf) and then
moves everything loaded so far out of the garbage collector's reach (``gc.freeze()``). The
application's modules, classes and compiled statements live as long as the process, yet
each full collection walked them all again: 60-90 ms with the GIL held every ~150 requests,
during which every thread of the worker stood still (measured in process: the slowest of
300 invoice lists 94-109 ms with it, 24-29 ms frozen; full collections 3-8 ms). Importing the
views here also takes the cost of the first request's imports (~270 ms) off a client.
"""

import gc


def post_worker_init(worker):
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view and serializer now
    gc.collect()
    gc.freeze()
