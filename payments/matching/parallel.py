"""Matching many payments at once, on several cores when the process may fork."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from payments.matching.engine import MatchIndex
from payments.matching.types import PaymentInput, Suggestion

# Set in the parent just before forking; the children inherit them without pickling.
_shared: tuple[MatchIndex, Sequence[PaymentInput], int, Callable] | None = None
_fork_forbidden = False  # set in Celery workers (payments.tasks)


def forbid_fork() -> None:
    """Rank in this process from now on, whatever its threads."""
    global _fork_forbidden
    _fork_forbidden = True


Finish = Callable[[int, int, list[list[Suggestion]]], Any]


def _as_is(start: int, end: int, ranked: list[list[Suggestion]]) -> list[list[Suggestion]]:
    return ranked


def suggest_chunks(
    index: MatchIndex,
    payments: Sequence[PaymentInput],
    *,
    limit: int = 5,
    workers: int | None = None,
    chunk_size: int = 2000,
    finish: Finish = _as_is,
) -> Iterator[Any]:
    """``finish(start, end, suggestions)`` of each chunk of payments, in the payments' order.

    ``finish`` runs where the chunk was ranked, so what it makes of the suggestions (rows to
    store, say) is built on every core too and only its result travels back. With
    workers > 1 (default: the CPU count) the built index is shared with forked workers
    (copy-on-write) and results are yielded as they come, so the caller can store one
    chunk while the next are ranked; in a daemonic process (a Celery prefork child), one
    running other threads (``_can_fork``), where there is no fork, or for few payments, it
    runs in this process.
    """
    workers = workers or os.cpu_count() or 1
    ranges = [
        (start, min(start + chunk_size, len(payments)))
        for start in range(0, len(payments), chunk_size)
    ]
    if workers <= 1 or len(payments) < 2 * chunk_size or not _can_fork():
        for start, end in ranges:
            yield finish(start, end, [index.suggest(payments[i], limit) for i in range(start, end)])
        return
    global _shared
    _shared = (index, payments, limit, finish)
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers) as pool:
            yield from pool.imap(_suggest_range, ranges, chunksize=1)
    finally:
        _shared = None


def suggest_all(
    index: MatchIndex,
    payments: Sequence[PaymentInput],
    *,
    limit: int = 5,
    workers: int | None = None,
    chunk_size: int = 2000,
) -> list[list[Suggestion]]:
    """Suggestions for every payment, in the payments' order (see ``suggest_chunks``)."""
    chunks = suggest_chunks(index, payments, limit=limit, workers=workers, chunk_size=chunk_size)
    return [suggestions for chunk in chunks for suggestions in chunk]


def _suggest_range(bounds: tuple[int, int]):
    index, payments, limit, finish = _shared
    gc.disable()  # a short-lived child: collecting would only touch (and copy) the shared pages
    start, end = bounds
    return finish(start, end, [index.suggest(payments[i], limit) for i in range(start, end)])


def _can_fork() -> bool:
    """Fork only from a single-threaded, non-daemonic process. A child forked while another
    thread holds a lock (a Celery solo or threads worker's consumer and heartbeat threads,
    a gthread web worker, a logging handler) inherits the lock held forever: the benchmark
    saw chunk tasks on solo workers hang at 16-19 of 20. There the work is ranked in the
    process itself; the Celery fan-out spreads runs over worker processes instead."""
    if _fork_forbidden or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.active_count() > 1:
        return False
    return not multiprocessing.current_process().daemon
