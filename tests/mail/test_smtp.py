"""Sending over SMTP to a real server (aiosmtpd on a free local port): what arrives, and
what happens when the server refuses or the connection breaks."""

import random
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from arpilot.email_url import FILE_BACKEND, SMTP_BACKEND, EmailURLError, email_settings_from_url
from mail import services
from mail.models import OutboundEmail

pytestmark = pytest.mark.django_db(transaction=True)
Status = OutboundEmail.Status
PDF = b"%PDF-1.4\n\x00\x01\x02 binary statement \xff\xfe"


def _queue(org, **overrides) -> OutboundEmail:
    arguments = {
        "organization_id": org.pk,
        "to": ["ap@customer.example", "cfo@customer.example"],
        "reply_to": ["clerk@arpilot.example"],
        "from_email": "Acme Receivables <billing@acme.example>",
        "subject": "Statement for März — Acme",
        "body_text": "Your statement is attached.\nTotal due: 1,250.00 EUR",
        "body_html": "<p>Your statement is attached.</p><p><b>Total due:</b> 1,250.00 EUR</p>",
        "attachments": [("statement.pdf", PDF, "application/pdf")],
        "kind": "statement",
    }
    with transaction.atomic():
        return services.email_queue(**(arguments | overrides))


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _due_now(email) -> None:
    """Time passes: the retry is due."""
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())


def test_an_email_arrives_at_the_smtp_server_whole(org, smtp):
    email = _queue(org)

    (received,) = smtp.wait_for(1)
    assert received.mail_from == "billing@acme.example"
    assert received.rcpt_tos == ["ap@customer.example", "cfo@customer.example"]
    message = received.message
    assert message["From"] == "Acme Receivables <billing@acme.example>"
    assert message["To"] == "ap@customer.example, cfo@customer.example"
    assert message["Reply-To"] == "clerk@arpilot.example"
    assert message["Subject"] == "Statement for März — Acme"
    assert message["Message-ID"] == email.message_id == f"<{email.pk.hex}@acme.example>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert _lines(message.get_body(("plain",)).get_content()) == [
        "Your statement is attached.",
        "Total due: 1,250.00 EUR",
    ]
    assert _lines(message.get_body(("html",)).get_content()) == [
        "<p>Your statement is attached.</p><p><b>Total due:</b> 1,250.00 EUR</p>"
    ]
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == "statement.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF
    email.refresh_from_db()
    assert (email.status, email.attempt_count, email.last_error) == (Status.SENT, 1, "")


def test_a_temporary_refusal_is_retried_with_backoff_and_the_same_message_id(org, smtp):
    smtp.data_replies = ["451 4.3.0 Mail server temporarily rejected message"]
    before = timezone.now()

    email = _queue(org)

    email.refresh_from_db()
    assert email.status == Status.QUEUED
    assert email.attempt_count == 1
    assert email.last_error == (
        "The mail server refused the message (451 4.3.0 Mail server temporarily rejected message)."
    )
    delay = email.next_attempt_at - before
    assert timedelta(seconds=53) < delay < timedelta(seconds=67)  # one minute, ±10 %
    assert smtp.received == []

    assert services.email_send(email_id=email.pk) == ""  # not due yet: nothing happens
    _due_now(email)
    assert services.email_send(email_id=email.pk) == Status.SENT

    (received,) = smtp.received
    assert received.message["Message-ID"] == email.message_id
    email.refresh_from_db()
    assert (email.status, email.attempt_count, email.last_error) == (Status.SENT, 2, "")


def test_a_refusing_server_is_tried_max_attempts_times_then_the_email_fails(org, smtp):
    smtp.data_replies = ["554 5.7.1 Message rejected as spam"] * services.MAX_ATTEMPTS

    email = _queue(org)
    for _ in range(services.MAX_ATTEMPTS - 1):
        email.refresh_from_db()
        assert email.status == Status.QUEUED
        _due_now(email)
        services.email_send(email_id=email.pk)

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.attempt_count == services.MAX_ATTEMPTS
    assert "554 5.7.1 Message rejected as spam" in email.last_error
    assert smtp.received == []


def test_every_recipient_refused_permanently_fails_at_once(org, smtp):
    smtp.rcpt_replies = ["550 5.1.1 No such user", "550 5.1.1 No such user"]

    email = _queue(org)

    email.refresh_from_db()
    assert email.status == Status.FAILED
    assert email.attempt_count == 1
    assert "ap@customer.example: 550 5.1.1 No such user" in email.last_error
    assert smtp.received == []


def test_an_unreachable_server_is_retried(org, smtp, settings):
    smtp.stop()

    email = _queue(org)

    email.refresh_from_db()
    assert email.status == Status.QUEUED
    assert email.handed_over_at is None
    assert email.last_error == "The mail server refused the connection (nothing listens there)."


def test_a_connection_lost_after_the_data_is_unconfirmed_and_never_retried(org, smtp, settings):
    smtp.hang_after_data = 3
    settings.EMAIL_TIMEOUT = 0.5  # the reply to the data never comes in time

    email = _queue(org)

    email.refresh_from_db()
    assert email.status == Status.UNCONFIRMED
    assert email.next_attempt_at is None
    assert "may or may not have accepted it" in email.last_error
    assert len(smtp.received) == 1  # the server did take it
    assert services.emails_requeue_due() == 0
    assert services.email_send(email_id=email.pk) == ""
    assert len(smtp.received) == 1


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://user%40acme.example:p%3Ass%2Fw@mail.acme.example:587/?tls=True&timeout=12",
            {
                "EMAIL_BACKEND": SMTP_BACKEND,
                "EMAIL_HOST": "mail.acme.example",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "user@acme.example",
                "EMAIL_HOST_PASSWORD": "p:ss/w",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
                "EMAIL_TIMEOUT": 12.0,
            },
        ),
        (
            "smtps://relay.example",
            {
                "EMAIL_BACKEND": SMTP_BACKEND,
                "EMAIL_HOST": "relay.example",
                "EMAIL_PORT": 465,
                "EMAIL_HOST_USER": "",
                "EMAIL_HOST_PASSWORD": "",
                "EMAIL_USE_TLS": False,
                "EMAIL_USE_SSL": True,
            },
        ),
        (
            "file:///srv/arpilot/mail",
            {"EMAIL_BACKEND": FILE_BACKEND, "EMAIL_FILE_PATH": "/srv/arpilot/mail"},
        ),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
    ],
)
def test_email_url_gives_djangos_settings(url, expected):
    assert email_settings_from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail.example", "scheme must be one of"),
        ("smtp://user:secret-pw@:587", "needs a host"),
        ("smtp://user:secret-pw@mail.example:port", "port must be a number"),
        ("smtp://user:secret-pw@mail.example/?tls=maybe", "tls must be true or false"),
        ("smtps://user:secret-pw@mail.example/?tls=1", "exclude each other"),
        ("file://", "needs a folder"),
    ],
)
def test_a_bad_email_url_says_what_is_wrong_without_the_password(url, message):
    with pytest.raises(EmailURLError, match=message) as refused:
        email_settings_from_url(url)

    assert "secret-pw" not in str(refused.value)


def test_retry_delays_grow_and_are_jittered():
    rng = random.Random(7)
    delays = [services.retry_delay(n, rng=rng) for n in range(1, services.MAX_ATTEMPTS)]

    for delay, base in zip(delays, services.RETRY_DELAYS, strict=True):
        assert base * 0.9 <= delay <= base * 1.1
    assert delays == sorted(delays)
