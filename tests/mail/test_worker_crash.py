"""Sending through a real Celery worker subprocess (real Redis and PostgreSQL) to a real
SMTP server, and killing that worker mid-send: an email never reaches the server twice."""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from mail import services
from mail.models import OutboundEmail

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.celery_worker]
Status = OutboundEmail.Status


def _queue_committed(org) -> OutboundEmail:
    with transaction.atomic():
        return services.email_queue(
            organization_id=org.pk,
            to=["ap@customer.example"],
            subject="Invoice INV-00001 is overdue",
            body_text="Please pay INV-00001.",
            kind="reminder",
        )


def _wait_for_status(email, status: str, timeout: float = 30.0) -> OutboundEmail:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status == status:
            return email
        time.sleep(0.1)
    raise AssertionError(f"still {email.status} ({email.last_error}), not {status}")


def _lease_runs_out(email) -> None:
    """Time passes: the dead worker's lease runs out (the sweeper runs every minute)."""
    OutboundEmail.objects.filter(pk=email.pk).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )


def test_a_committed_email_is_sent_by_a_worker(org, smtp_server, celery_worker_factory):
    celery_worker_factory(EMAIL_URL=smtp_server.url)

    email = _queue_committed(org)

    _wait_for_status(email, Status.SENT)
    (received,) = smtp_server.received
    assert received.message["Message-ID"] == email.message_id


def test_a_worker_killed_after_the_server_took_the_message_never_sends_it_again(
    org, smtp_server, celery_worker_factory
):
    smtp_server.hang_after_data = 20  # the server has the message; its reply never comes
    first_worker = celery_worker_factory(EMAIL_URL=smtp_server.url)

    email = _queue_committed(org)
    assert smtp_server.got_message.wait(20), first_worker.output
    first_worker.kill()
    email.refresh_from_db()
    assert email.status == Status.SENDING
    assert email.handed_over_at is not None  # the SMTP transaction had begun

    celery_worker_factory(EMAIL_URL=smtp_server.url)
    _lease_runs_out(email)
    assert services.emails_requeue_due() == 0
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    assert services.emails_requeue_due() == 0  # unconfirmed is never handed to a worker

    email.refresh_from_db()
    assert email.status == Status.UNCONFIRMED
    assert email.attempt_count == 1
    assert "may or may not have accepted" in email.last_error
    time.sleep(2)  # a second worker is up and idle: nothing more reaches the server
    assert len(smtp_server.received) == 1


def test_a_worker_killed_before_the_smtp_transaction_began_is_sent_once_by_the_next(
    org, smtp_server, celery_worker_factory
):
    smtp_server.hang_at_ehlo = 20  # the worker waits for the greeting's answer
    first_worker = celery_worker_factory(EMAIL_URL=smtp_server.url)

    email = _queue_committed(org)
    assert smtp_server.greeted.wait(20), first_worker.output
    first_worker.kill()
    email.refresh_from_db()
    assert (email.status, email.handed_over_at) == (Status.SENDING, None)

    smtp_server.hang_at_ehlo = 0
    celery_worker_factory(EMAIL_URL=smtp_server.url)
    _lease_runs_out(email)
    assert services.emails_requeue_due() == 1

    email = _wait_for_status(email, Status.SENT)
    assert email.attempt_count == 2
    (received,) = smtp_server.received
    assert received.message["Message-ID"] == email.message_id
