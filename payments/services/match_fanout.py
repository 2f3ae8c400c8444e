"""Matching a large run across Celery workers.

A run of many payments (a bank file of 100,000 lines, the nightly re-match of a large book)
is cut into chunks of ``FANOUT_CHUNK`` payments, each chunk a task on the ``arpilot`` queue.
Every worker process that takes a chunk reads and indexes the organization's open invoices
once for the run (``payments_match(index_key=…)`` keeps the index in the process for the
run's later chunks), ranks its chunk, stores the suggestions and auto-applies what is sure,
each application re-checked under its locks as always. So a bigger book is answered with
more workers (on more machines), not a bigger one: chunks are independent, and the only
shared state is PostgreSQL.

The semantics are those of one run: every chunk ranks against the book as it was when its
worker indexed it, as one run ranks every payment against the book it read first; an invoice
settled by an earlier chunk's auto-apply is refused by the balance check of a later one.

Small runs, and the embedded mode (no Redis: tasks run in the web process), are matched in
one piece, as before.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches

from arpilot.queueing import task_send
from payments import tasks
from payments.models import Payment
from payments.services.matching import payments_match

# A run of fewer payments is matched by one task (the forked ranking inside it is enough).
FANOUT_MIN_PAYMENTS = 20_000
# Payments per chunk task: large enough that ranking outweighs the per-task cost (reading
# the chunk, the store transaction), small enough that several workers share a file.
FANOUT_CHUNK = 5_000
# How long a run's progress counters are kept (a day: any run is long done by then).
PROGRESS_SECONDS = 24 * 3600


@dataclass(frozen=True)
class MatchRunStarted:
    payments: int  # matched here, or handed to the chunk tasks
    run_key: str | None = None  # None: matched here, in one piece
    chunks: int = 0


def _progress_keys(run_key: str) -> tuple[str, str]:
    return f"match-run:{run_key}:chunks", f"match-run:{run_key}:done"


def run_progress(run_key: str) -> tuple[int, int]:
    """(chunks done, chunks) of a run spread over the workers; (0, 0) when unknown."""
    total_key, done_key = _progress_keys(run_key)
    found = caches["shared"].get_many([total_key, done_key])
    return int(found.get(done_key) or 0), int(found.get(total_key) or 0)


def payments_match_run(
    *, organization_id: int, payment_ids: list | None = None, chunk_size: int | None = None
) -> MatchRunStarted:
    """Match the organization's unmatched payments (or those of ``payment_ids``): in one
    piece when few, else as chunk tasks across the workers (``run_progress`` follows them)."""
    chunk_size = chunk_size or FANOUT_CHUNK
    unmatched = Payment.objects.for_org(organization_id).unmatched().order_by("pk")
    if payment_ids is not None:
        unmatched = unmatched.filter(pk__in=list(payment_ids))
    ids = [str(pk) for pk in unmatched.values_list("pk", flat=True)]
    if len(ids) < max(FANOUT_MIN_PAYMENTS, chunk_size + 1) or settings.ARPILOT_TASKS_IN_PROCESS:
        run = payments_match(organization=organization_id, payment_ids=ids)
        return MatchRunStarted(payments=run.payments)
    run_key = uuid.uuid4().hex
    starts = range(0, len(ids), chunk_size)
    total_key, done_key = _progress_keys(run_key)
    caches["shared"].set_many({total_key: len(starts), done_key: 0}, PROGRESS_SECONDS)
    for number, start in enumerate(starts):
        sent = task_send(
            tasks.payments_match_chunk_task,
            args=[organization_id, ids[start : start + chunk_size], run_key],
            later="the next import or a clerk's re-match will match them",
        )
        if not sent:  # the broker is away: match what is left here, in one piece
            payments_match(organization=organization_id, payment_ids=ids[start:])
            caches["shared"].set(total_key, number, PROGRESS_SECONDS)
            break
    return MatchRunStarted(payments=len(ids), run_key=run_key, chunks=len(starts))


def payments_match_chunk(*, organization_id: int, payment_ids: list, run_key: str) -> int:
    """One chunk of a run: ranked against this process's index of the run (built by the
    first chunk it takes); counted done in ``run_progress``."""
    run = payments_match(organization=organization_id, payment_ids=payment_ids, index_key=run_key)
    with contextlib.suppress(ValueError):  # the counter expired: nobody follows the run
        caches["shared"].incr(_progress_keys(run_key)[1])
    return run.payments
