"""Matching many payments at once, on several cores when the process may fork."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Sequence

from payments.matching.engine import MatchIndex
from payments.matching.types import PaymentInput, Suggestion

# Set in the parent just before forking; the children inherit them without pickling.
_shared: tuple[MatchIndex, Sequence[PaymentInput], int] | None = None


def suggest_all(
    index: MatchIndex,
    payments: Sequence[PaymentInput],
    *,
    limit: int = 5,
    workers: int | None = None,
    chunk_size: int = 2000,
) -> list[list[Suggestion]]:
    """Suggestions for every payment, in the payments' order.

    With workers > 1 (default: the CPU count) the built index is shared with forked workers
    (copy-on-write); in a daemonic process (a Celery prefork child), where there is no fork,
    or for few payments, it runs in this process.
    """
    workers = workers or os.cpu_count() or 1
    if workers <= 1 or len(payments) < 2 * chunk_size or not _can_fork():
        return [index.suggest(payment, limit) for payment in payments]
    global _shared
    _shared = (index, payments, limit)
    try:
        context = multiprocessing.get_context("fork")
        ranges = [
            (start, min(start + chunk_size, len(payments)))
            for start in range(0, len(payments), chunk_size)
        ]
        with context.Pool(workers) as pool:
            chunks = pool.map(_suggest_range, ranges, chunksize=1)
    finally:
        _shared = None
    return [suggestions for chunk in chunks for suggestions in chunk]


def _suggest_range(bounds: tuple[int, int]) -> list[list[Suggestion]]:
    index, payments, limit = _shared
    gc.disable()  # a short-lived child: collecting would only touch (and copy) the shared pages
    return [index.suggest(payments[i], limit) for i in range(*bounds)]


def _can_fork() -> bool:
    if "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not multiprocessing.current_process().daemon
