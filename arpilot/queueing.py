"""Queueing a Celery task so that a broker outage never fails the request that asked.

Tasks take ids and re-read the database, and every kind of background work has a sweeper
that finds what is still to do (imports queued too long, due deliveries, approved changes),
so a task that could not be queued is logged and picked up later, not lost.
"""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


def task_send(task, *, args=(), kwargs=None, countdown=None, later: str = "a sweeper will") -> bool:
    """Queue ``task``; False (and a warning saying who picks it up ``later``) when the broker
    is away."""
    try:
        task.apply_async(args=list(args), kwargs=kwargs or {}, countdown=countdown, retry=False)
    except Exception as exc:  # any broker or network failure: kombu, redis, socket
        logger.warning("%s not queued (%s); %s", task.name, exc, later)
        return False
    return True


def task_send_on_commit(task, **options) -> None:
    """``task_send`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: task_send(task, **options))
