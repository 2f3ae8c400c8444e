"""The outbox: emails are written with the decision, sent after commit, never lost, and a
dead worker's email is settled without ever sending it twice."""

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from unittest import mock

import pytest
from django.core import mail as django_mail
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from arpilot.email_url import FILE_BACKEND
from arpilot.errors import Conflict, ValidationFailed
from mail import services
from mail.models import OutboundEmail
from mail.services import queueing
from mail.tasks import send_task
from tests.mail import helpers

pytestmark = pytest.mark.django_db(transaction=True)
Status = OutboundEmail.Status


def _queue(org, **overrides) -> OutboundEmail:
    arguments = {
        "organization_id": org.pk,
        "to": ["ap@customer.example"],
        "subject": "Invoice INV-00001 is overdue",
        "body_text": "Please pay INV-00001.",
        "kind": "reminder",
        "reference": {"invoice_ids": ["a1"]},
    }
    return services.email_queue(**(arguments | overrides))


def _long_ago():
    return timezone.now() - timedelta(minutes=10)


def test_a_rolled_back_decision_sends_nothing(org):
    with pytest.raises(RuntimeError), transaction.atomic():
        _queue(org)
        raise RuntimeError("the reminder run failed")

    assert OutboundEmail.objects.count() == 0
    assert django_mail.outbox == []


def test_a_committed_email_is_sent_after_commit_and_not_before(org):
    with transaction.atomic():
        email = _queue(org)
        assert django_mail.outbox == []
        assert email.status == Status.QUEUED

    (message,) = django_mail.outbox
    assert message.extra_headers["Message-ID"] == email.message_id
    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.attempt_count == 1
    assert email.sent_at is not None
    assert email.locked_until is None
    assert email.message_id == f"<{email.pk.hex}@localhost>"
    assert email.reference == {"invoice_ids": ["a1"]}


def test_queueing_writes_the_email_and_its_attachments_in_two_statements(
    org, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr(queueing, "_send_on_commit", lambda *args, **kwargs: None)
    with transaction.atomic(), django_assert_num_queries(2):
        email = _queue(
            org,
            attachments=[("a.pdf", b"%PDF-1.4", "application/pdf"), ("b.csv", b"1,2", "text/csv")],
        )

    assert [(a.position, a.filename, a.size) for a in email.attachments.all()] == [
        (0, "a.pdf", 8),
        (1, "b.csv", 3),
    ]


def test_a_commit_while_the_broker_is_unreachable_is_sent_after_it_returns(org, monkeypatch):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(send_task, "apply_async", broker_down)
    with transaction.atomic():
        _queue(org)  # the caller's transaction commits even though the task cannot be sent

    assert OutboundEmail.objects.get().status == Status.QUEUED
    monkeypatch.undo()
    assert services.emails_requeue_due() == 0  # just committed: its task may be on its way

    OutboundEmail.objects.update(next_attempt_at=_long_ago())
    assert services.emails_requeue_due() == 1

    assert len(django_mail.outbox) == 1
    assert OutboundEmail.objects.get().status == Status.SENT


def _queued_task_lost(org) -> OutboundEmail:
    """A committed email whose send task was lost on its way."""
    with mock.patch.object(send_task, "apply_async"), transaction.atomic():
        return _queue(org)


def _leased_by_a_dead_worker(org, *, handed_over: bool, attempt_count: int = 1):
    """An email a worker claimed (and, if ``handed_over``, began the SMTP transaction of)
    before it died; its lease has run out."""
    email = _queued_task_lost(org)
    OutboundEmail.objects.filter(pk=email.pk).update(
        status=Status.SENDING,
        attempt_count=attempt_count,
        locked_until=timezone.now() - timedelta(seconds=1),
        handed_over_at=timezone.now() - timedelta(minutes=10) if handed_over else None,
    )
    return email


def test_a_dead_workers_email_that_never_reached_the_smtp_transaction_is_sent_again(org):
    email = _leased_by_a_dead_worker(org, handed_over=False)

    assert services.emails_requeue_due() == 1

    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.attempt_count == 2  # the dead worker's attempt counts
    assert len(django_mail.outbox) == 1


def test_a_dead_workers_email_that_may_have_reached_the_server_waits_for_a_clerk(org):
    email = _leased_by_a_dead_worker(org, handed_over=True)

    assert services.emails_requeue_due() == 0
    assert services.emails_requeue_due() == 0
    services.email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == Status.UNCONFIRMED
    assert "may or may not have accepted" in email.last_error
    assert django_mail.outbox == []


def test_a_dead_workers_email_on_its_last_attempt_fails(org):
    email = _leased_by_a_dead_worker(org, handed_over=False, attempt_count=services.MAX_ATTEMPTS)

    assert services.emails_requeue_due() == 0

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert django_mail.outbox == []


def test_the_sweeper_leaves_a_live_lease_alone(org):
    email = _leased_by_a_dead_worker(org, handed_over=True)
    OutboundEmail.objects.filter(pk=email.pk).update(
        locked_until=timezone.now() + timedelta(minutes=1)
    )

    assert services.emails_requeue_due() == 0

    assert OutboundEmail.objects.get().status == Status.SENDING


def test_a_worker_whose_lease_ran_out_before_the_smtp_transaction_does_not_send(org, monkeypatch):
    from mail.services import sending

    email = _queued_task_lost(org)
    original_greet = sending._greet

    def slow_greeting(connection):  # meanwhile the lease ran out and the sweeper ran
        original_greet(connection)
        OutboundEmail.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
        services.emails_requeue_due()

    monkeypatch.setattr(sending, "_greet", slow_greeting)
    monkeypatch.setattr(sending, "_send_on_commit", lambda *args, **kwargs: None)
    monkeypatch.setattr(queueing, "_enqueue", lambda *args, **kwargs: True)

    assert services.email_send(email_id=email.pk) == ""

    assert django_mail.outbox == []
    email.refresh_from_db()
    assert email.status == Status.QUEUED  # the sweeper queued it again; a later task sends it


def test_before_send_false_cancels_the_email(org):
    helpers.calls.clear()
    with transaction.atomic():
        email = _queue(org, before_send="tests.mail.helpers.drop")

    email.refresh_from_db()
    assert email.status == Status.CANCELLED
    assert "tests.mail.helpers.drop" in email.last_error
    assert helpers.calls == [("drop", email.pk)]
    assert django_mail.outbox == []


def test_before_send_true_sends_the_email(org):
    helpers.calls.clear()
    with transaction.atomic():
        email = _queue(org, before_send="tests.mail.helpers.keep")

    assert helpers.calls == [("keep", email.pk)]
    assert OutboundEmail.objects.get().status == Status.SENT
    assert len(django_mail.outbox) == 1


def test_a_before_send_hook_that_raises_is_retried_later(org):
    with transaction.atomic():
        email = _queue(org, before_send="tests.mail.helpers.explode")

    email.refresh_from_db()
    assert email.status == Status.QUEUED
    assert email.attempt_count == 1
    assert email.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert "the invoices could not be read" in email.last_error
    assert django_mail.outbox == []


def test_an_unknown_before_send_hook_is_a_programming_error(org):
    with pytest.raises(ImportError):
        _queue(org, before_send="tests.mail.helpers.nonexistent")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"to": "ap@customer.example"}, "to"),
        ({"to": []}, "to"),
        ({"to": ["not an address"]}, "to"),
        ({"reply_to": ["nobody@"]}, "reply_to"),
        ({"subject": " \r\n "}, "subject"),
        ({"attachments": [("a.pdf", "text, not bytes", "application/pdf")]}, "attachments"),
        ({"attachments": [("a.pdf", b"x")]}, "attachments"),
        ({"from_email": "ARPilot <nowhere>"}, "from_email"),
    ],
)
def test_bad_input_is_refused_naming_the_field(org, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        _queue(org, **overrides)

    assert list(refused.value.fields) == [field]
    assert OutboundEmail.objects.count() == 0


def test_a_subject_is_one_header_line(org):
    email = _queue(org, subject="Overdue\r\nBcc: everyone@example.com")

    assert email.subject == "Overdue Bcc: everyone@example.com"
    (message,) = django_mail.outbox
    assert "Bcc" not in message.message()


def test_the_file_backend_writes_one_eml_file_per_message(org, settings, tmp_path):
    settings.EMAIL_BACKEND = FILE_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path / "var" / "mail")

    with transaction.atomic():
        first = _queue(org, body_html="<p>Please pay</p>")
        second = _queue(org, attachments=[("s.pdf", b"%PDF-1.4 statement", "application/pdf")])

    files = sorted((tmp_path / "var" / "mail").iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]
    messages = {
        message["Message-ID"]: message
        for message in (message_from_bytes(p.read_bytes(), policy=default_policy) for p in files)
    }
    assert set(messages) == {first.message_id, second.message_id}
    assert all(first.pk.hex in p.name or second.pk.hex in p.name for p in files)
    html = messages[first.message_id].get_body(("html",)).get_content()
    assert "<p>Please pay</p>" in html
    (attachment,) = messages[second.message_id].iter_attachments()
    assert attachment.get_content() == b"%PDF-1.4 statement"
    assert set(OutboundEmail.objects.values_list("status", flat=True)) == {Status.SENT}


def test_resending_keeps_the_message_id_and_counts_attempts_afresh(org):
    email = _leased_by_a_dead_worker(org, handed_over=True)
    services.emails_requeue_due()
    email.refresh_from_db()

    services.email_resend(email=email)

    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.attempt_count == 1
    (message,) = django_mail.outbox
    assert message.extra_headers["Message-ID"] == email.message_id


def test_a_clerk_marks_an_unconfirmed_email_sent(org):
    email = _leased_by_a_dead_worker(org, handed_over=True)
    services.emails_requeue_due()

    services.email_mark_sent(email=email)

    email.refresh_from_db()
    assert email.status == Status.SENT
    assert email.sent_at == email.handed_over_at
    with pytest.raises(Conflict):
        services.email_mark_sent(email=email)
    with pytest.raises(Conflict):
        services.email_resend(email=email)  # sent: a new email is queued instead
    assert django_mail.outbox == []


def test_a_clerk_cancels_an_unconfirmed_email(org):
    email = _leased_by_a_dead_worker(org, handed_over=True)
    services.emails_requeue_due()

    services.email_cancel(email=email)

    assert OutboundEmail.objects.get().status == Status.CANCELLED
    with pytest.raises(Conflict):
        services.email_cancel(email=email)
