"""Queueing send tasks, and the sweeper that finds what a lost task or a dead worker left.

After commit one ``send_task`` per email is queued. A lost task (broker down) leaves a queued
email that ``emails_requeue_due`` (beat, every minute) hands to a worker again; a worker that
dies leaves an email ``sending`` under a lease that runs out, which the sweeper settles as
``sending`` describes (queued again if its SMTP transaction never began, ``unconfirmed``
otherwise).
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.queueing import task_send
from mail.models import OutboundEmail

# A worker holds a claimed email this long: far past one SMTP exchange (every socket
# operation times out after EMAIL_TIMEOUT, 30 s by default). A worker that finds its lease
# run out before the SMTP transaction begins gives the email up without sending.
LEASE = timedelta(minutes=10)
# The sweeper leaves a queued email to the task already sent for it until it has been due
# this long (a queue backlog is not a lost task), and waits as long again after re-queueing.
SWEEP_GRACE = timedelta(minutes=3)
SWEEP_BATCH = 1000

LEASE_LOST_BEFORE_SMTP = (
    "The worker sending it stopped before the SMTP transaction began; queued again."
)
LEASE_LOST_DURING_SMTP = (
    "The worker sending it stopped during the SMTP transaction: the server may or may not "
    "have accepted the message. Check with the recipient, then send it again or mark it sent."
)


def _enqueue(email_id, countdown: float | None = None) -> bool:
    """Queue a task that sends the email; False if the broker is away (the sweeper queues it
    later)."""
    # Import cycle: mail.tasks imports these services (its tasks call them).
    from mail.tasks import send_task

    return task_send(
        send_task, args=[str(email_id)], countdown=countdown, later="the mail sweeper will"
    )


def _send_on_commit(email_id, countdown: float | None = None) -> None:
    transaction.on_commit(lambda: _enqueue(email_id, countdown))


def _send_many_on_commit(email_ids) -> None:
    """After commit, one task that queues a send task for each email: the committing
    process publishes one message, not thousands (a lost one is found by the sweeper)."""
    if not email_ids:
        return
    from mail.tasks import queue_sends_task

    ids = [str(email_id) for email_id in email_ids]
    transaction.on_commit(
        lambda: task_send(queue_sends_task, args=[ids], later="the mail sweeper will")
    )


def emails_send_queue(email_ids) -> int:
    """Queue a send task for each email (what ``queue_sends_task`` does in a worker)."""
    queued = 0
    for email_id in email_ids:
        if not _enqueue(email_id):
            break  # the broker is away: the sweeper queues the rest
        queued += 1
    return queued


def emails_requeue_due() -> int:
    """Settle emails whose worker died and queue sends again for those whose task was lost.

    A lease that ran out before the SMTP transaction began means nothing reached a server:
    the email is queued again (failed if that was its last attempt). One that ran out after
    it began may have been delivered: the email becomes ``unconfirmed`` and waits for a
    clerk. A queued email counts as lost once it has been due for ``SWEEP_GRACE``. Returns
    how many emails were handed to a task.
    """
    now = timezone.now()
    _leases_expired_settle(now)
    due = list(
        OutboundEmail.objects.due(now, due_before=now - SWEEP_GRACE)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    queued = []
    for email_id in due:
        if not _enqueue(email_id):
            break  # the broker is still away; the next sweep tries again
        queued.append(email_id)
    OutboundEmail.objects.filter(
        pk__in=queued,
        status=OutboundEmail.Status.QUEUED,
        next_attempt_at__lte=now - SWEEP_GRACE,  # not one a worker has rescheduled since
    ).update(next_attempt_at=now)
    return len(queued)


@transaction.atomic
def _give_up(emails, now) -> None:
    """Fail ``emails`` for good, and tell the app that queued each (``EmailGaveUp``)."""
    Status = OutboundEmail.Status
    failing = list(
        emails.select_related("organization").select_for_update(of=("self",)).order_by("pk")
    )
    if not failing:
        return
    OutboundEmail.objects.filter(pk__in=[email.pk for email in failing]).update(
        status=Status.FAILED,
        next_attempt_at=None,
        locked_until=None,
        last_error=LEASE_LOST_BEFORE_SMTP,
        updated_at=now,
    )
    for email in failing:
        email.status = Status.FAILED
        email.next_attempt_at = email.locked_until = None
        email.last_error = LEASE_LOST_BEFORE_SMTP
        email.updated_at = now
        hooks.dispatch(hooks.EmailGaveUp(organization=email.organization, email=email))


def _leases_expired_settle(now) -> None:
    # Import cycle: sending uses this module's lease and queueing.
    from mail.services.sending import MAX_ATTEMPTS

    Status = OutboundEmail.Status
    expired = OutboundEmail.objects.lease_expired(now)
    never_began = expired.filter(handed_over_at__isnull=True)
    # Dated back by the grace period, so the due-sweep after this hands them over at once.
    never_began.filter(attempt_count__lt=MAX_ATTEMPTS).update(
        status=Status.QUEUED,
        next_attempt_at=now - SWEEP_GRACE,
        locked_until=None,
        last_error=LEASE_LOST_BEFORE_SMTP,
        updated_at=now,
    )
    _give_up(never_began, now)  # what is left had no attempt to spare
    # ``locked_until`` stays: with the attempt number it names the lease, so the worker that
    # held it (if only slow, not dead) can still record that the server accepted the email.
    expired.filter(handed_over_at__isnull=False).update(
        status=Status.UNCONFIRMED,
        next_attempt_at=None,
        last_error=LEASE_LOST_DURING_SMTP,
        updated_at=now,
    )
