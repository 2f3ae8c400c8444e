"""An email that will not be sent tells the app that queued it (``arpilot.hooks.EmailGaveUp``):
a dunning reminder whose email the real SMTP server refuses for good, that runs out of
attempts, that the sweeper gives up on, or that a clerk cancels becomes ``failed`` (or
``cancelled``) and releases its invoices' level, so the next run reminds them afresh."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from dunning import services as dunning
from dunning.models import Reminder, ReminderInvoice
from mail import services
from mail.models import OutboundEmail
from tests.dunning.factories import TODAY, customer_with_contacts, overdue_invoice, subscriber
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db(transaction=True)
Status = OutboundEmail.Status


@pytest.fixture(autouse=True)
def _no_pdf(monkeypatch):
    monkeypatch.setattr(
        "dunning.services.run.statement_pdf", lambda statement, organization_name: b"%PDF-fake"
    )


@pytest.fixture
def invoice(org):
    return overdue_invoice(org, customer_with_contacts(org), days_overdue=4)


def _run(org) -> Reminder:
    """A dunning run: one reminder, its email queued (and, after commit, sent at once)."""
    (reminder,) = dunning.dunning_run(organization=org, today=TODAY)
    reminder.refresh_from_db()
    return reminder


def _released(reminder) -> bool:
    lines = ReminderInvoice.objects.filter(reminder=reminder)
    return lines.exists() and all(line.released for line in lines)


def _reminded_again(org, invoice) -> Reminder:
    (again,) = dunning.dunning_run(organization=org, today=TODAY)
    assert [line.invoice_id for line in again.lines.all()] == [invoice.pk]
    assert again.level == 1
    return again


def test_a_refused_recipient_fails_the_reminder_and_releases_its_level(org, invoice, smtp):
    smtp.rcpt_replies = ["550 5.1.1 No such user"]

    reminder = _run(org)

    email = OutboundEmail.objects.get(pk=reminder.email_id)
    assert (email.status, email.attempt_count) == (Status.FAILED, 1)
    assert reminder.status == Reminder.Status.FAILED
    assert reminder.sent_at is None  # its last check said yes; the server said no
    assert "550 5.1.1 No such user" in reminder.cancelled_reason
    assert _released(reminder)
    again = _reminded_again(org, invoice)  # the server takes this one
    again.refresh_from_db()
    assert again.status == Reminder.Status.SENT
    assert len(smtp.wait_for(1)) == 1


def test_a_reminder_whose_email_runs_out_of_attempts_fails(org, invoice, smtp):
    smtp.data_replies = ["451 4.3.0 Try again later"] * services.MAX_ATTEMPTS

    reminder = _run(org)
    for _ in range(services.MAX_ATTEMPTS - 1):
        assert Reminder.objects.get(pk=reminder.pk).status == Reminder.Status.QUEUED
        assert not _released(reminder)
        OutboundEmail.objects.filter(pk=reminder.email_id).update(next_attempt_at=timezone.now())
        services.email_send(email_id=reminder.email_id)

    reminder.refresh_from_db()
    assert OutboundEmail.objects.get(pk=reminder.email_id).status == Status.FAILED
    assert reminder.status == Reminder.Status.FAILED
    assert "451 4.3.0 Try again later" in reminder.cancelled_reason
    assert _released(reminder)
    _reminded_again(org, invoice)


def test_a_clerk_cancelling_the_email_cancels_the_reminder(org, invoice, smtp):
    smtp.data_replies = ["451 4.3.0 Try again later"]  # queued for a retry
    reminder = _run(org)
    email = OutboundEmail.objects.get(pk=reminder.email_id)
    assert email.status == Status.QUEUED

    services.email_cancel(email=email)

    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.CANCELLED
    assert reminder.cancelled_reason == "Its email was cancelled by a clerk."
    assert _released(reminder)
    _reminded_again(org, invoice)


def test_the_sweeper_giving_up_on_a_dead_workers_email_fails_the_reminder(org, invoice, smtp):
    smtp.data_replies = ["451 4.3.0 Try again later"]
    reminder = _run(org)
    # The last attempt's worker died before its SMTP transaction began; its lease ran out.
    OutboundEmail.objects.filter(pk=reminder.email_id).update(
        status=Status.SENDING,
        attempt_count=services.MAX_ATTEMPTS,
        locked_until=timezone.now() - timedelta(seconds=1),
        handed_over_at=None,
    )

    services.emails_requeue_due()

    reminder.refresh_from_db()
    assert OutboundEmail.objects.get(pk=reminder.email_id).status == Status.FAILED
    assert reminder.status == Reminder.Status.FAILED
    assert _released(reminder)


def test_a_failed_reminders_email_sent_again_stays_unsent(org, invoice, smtp):
    smtp.rcpt_replies = ["550 5.1.1 No such user"]
    reminder = _run(org)
    email = OutboundEmail.objects.get(pk=reminder.email_id)

    services.email_resend(email=email)  # eager: its last check runs at once

    email.refresh_from_db()
    assert email.status == Status.CANCELLED  # the reminder was released: the run decides
    assert Reminder.objects.get(pk=reminder.pk).status == Reminder.Status.FAILED
    assert smtp.received == []


def test_a_sent_reminder_is_left_alone_and_other_emails_change_nothing(org, invoice, smtp):
    subscriber(org)
    reminder = _run(org)
    assert reminder.status == Reminder.Status.SENT
    assert WebhookEvent.objects.filter(event_type="reminder.sent").count() == 1
    smtp.rcpt_replies = ["550 5.1.1 No such user"]
    with transaction.atomic():
        other = services.email_queue(
            organization_id=org.pk,
            to=["ap@customer.example"],
            subject="Statement",
            body_text="Attached.",
            kind="statement",
            reference={"customer_id": str(reminder.customer_id)},
        )

    other.refresh_from_db()
    assert other.status == Status.FAILED
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.SENT
    assert not _released(reminder)
