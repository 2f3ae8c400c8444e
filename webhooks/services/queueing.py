"""Queueing send tasks: the "task queued" flags, the per-endpoint send slots, and the sweeper.

After commit one ``send_due_task`` per endpoint is queued (not one per event: while one is
queued and not yet started, further commits only find its flag in the cache). A lost task
(Redis down, worker killed) leaves a pending delivery that ``deliveries_requeue_due`` (beat,
every minute) hands to a worker again.
"""

import contextlib
import logging
import time
from collections import defaultdict
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from arpilot.queueing import task_send
from webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

# A worker holds a claimed delivery this long (well past the 15 s connect + 15 s read
# timeouts); if it dies, the sweeper hands the delivery to another once this has passed.
LEASE = timedelta(minutes=2)
# How long one send task keeps starting new batches (then it queues a successor, so one busy
# endpoint cannot hold a worker slot forever; see ``delivery.endpoint_drain``).
TASK_SEND_SECONDS = 30.0
# The sweeper leaves a delivery to the task already sent for it until it has been due this
# long (a queue backlog is not a lost task), and waits as long again after re-queueing it.
SWEEP_GRACE = timedelta(minutes=3)
SWEEP_BATCH = 5000
BROKER_BACKOFF = 30.0
# How long a "send task queued" flag lives in the cache: if its task is lost, the next
# commit after this queues another (the sweeper covers the time between).
QUEUED_FLAG_TTL = 60
# Tasks sending to one endpoint at once, and how long a slot outlives a task that died
# holding it (its last batch may take the lease's length after the task's time is up).
MAX_PARALLEL_SENDS = 4
SEND_SLOT_TTL = int(TASK_SEND_SECONDS + LEASE.total_seconds())

_broker_down_until = 0.0


def _queued_flag(endpoint_id) -> str:
    return f"webhooks:send-queued:{endpoint_id}"


def _enqueue(endpoint_id, countdown: float | None = None, *, force: bool = False) -> bool:
    """Queue a task that sends the endpoint's due deliveries; False if the broker is away
    (the sweeper queues it later).

    Without ``countdown`` or ``force``, nothing is sent while a task for the endpoint is
    already queued and not yet started (a flag in the cache says so): it will find this
    commit's deliveries. After a failed send, sends from this process are skipped for
    ``BROKER_BACKOFF`` seconds (unless ``force``) so that requests do not each wait on a
    broker that is down.
    """
    global _broker_down_until
    # Import cycle: webhooks.tasks imports these services (its tasks call them).
    from webhooks.tasks import send_due_task

    if not force and time.monotonic() < _broker_down_until:
        return False
    flag = None if (force or countdown) else _queued_flag(endpoint_id)
    try:
        if flag is not None and not cache.add(flag, 1, timeout=QUEUED_FLAG_TTL):
            return True  # a queued task will send it
    except Exception as exc:  # the cache is the broker's Redis: it is away too
        logger.warning("webhook send flag for %s not set (%s)", endpoint_id, exc)
        flag = None
    sent = task_send(
        send_due_task,
        args=[str(endpoint_id)],
        kwargs={"flagged": flag is not None},
        countdown=countdown,
        later="the sweeper will",
    )
    if not sent:
        _broker_down_until = time.monotonic() + BROKER_BACKOFF
        if flag is not None:
            with contextlib.suppress(Exception):  # the flag expires by itself
                cache.delete(flag)
    return sent


def _send_on_commit(endpoint_id, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _enqueue(endpoint_id, countdown))


def _queued_flag_clear(endpoint_id) -> None:
    """A flagged task has started: a commit from now on queues a new one."""
    try:
        cache.delete(_queued_flag(endpoint_id))
    except Exception as exc:  # the flag expires by itself
        logger.warning("webhook send flag for %s not cleared (%s)", endpoint_id, exc)


def _send_slot_take(endpoint_id) -> str | None:
    """One of the endpoint's ``MAX_PARALLEL_SENDS`` sending slots, or None if all are taken.
    Without the cache (Redis away) every task may send: the slots only spread the load."""
    try:
        for number in range(MAX_PARALLEL_SENDS):
            key = f"webhooks:sending:{endpoint_id}:{number}"
            if cache.add(key, 1, timeout=SEND_SLOT_TTL):
                return key
    except Exception as exc:
        logger.warning("webhook send slots for %s unavailable (%s)", endpoint_id, exc)
        return ""
    return None


def _send_slot_release(slot: str) -> None:
    if slot:
        with contextlib.suppress(Exception):  # it expires by itself
            cache.delete(slot)


def deliveries_requeue_due() -> int:
    """Queue sends again for deliveries whose task was lost (broker down, worker killed).

    A delivery counts as lost once it has been due for ``SWEEP_GRACE`` with no live lease.
    One task is queued per endpoint; the deliveries it covers are marked due now, so a long
    queue backlog gets at most one extra task per endpoint per ``SWEEP_GRACE``. Returns how
    many deliveries were handed over.
    """
    now = timezone.now()
    due = (
        WebhookDelivery.objects.due(now, due_before=now - SWEEP_GRACE)
        .filter(endpoint__is_active=True)
        .order_by("next_attempt_at")
        .values_list("pk", "endpoint_id")[:SWEEP_BATCH]
    )
    by_endpoint = defaultdict(list)
    for delivery_id, endpoint_id in due:
        by_endpoint[endpoint_id].append(delivery_id)
    queued = []
    for endpoint_id, delivery_ids in by_endpoint.items():
        if not _enqueue(endpoint_id, force=True):
            break  # the broker is still away; the next sweep tries again
        queued.extend(delivery_ids)
    WebhookDelivery.objects.filter(
        pk__in=queued,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now - SWEEP_GRACE,  # not one a worker has rescheduled since
    ).update(next_attempt_at=now)
    return len(queued)
