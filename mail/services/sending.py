"""Sending: a task leases one queued email, asks its ``before_send`` hook, hands it to the
configured backend (SMTP in production) and records the outcome, retrying with backoff.

What is guaranteed: **at most once**. An email that reaches a server twice is worse than one
a clerk has to look at, so nothing is ever retried unless it demonstrably did not reach the
server. The one moment that cannot be known is the SMTP transaction itself: between
``MAIL FROM`` and the server's reply to the message data, a worker that dies (or a connection
that breaks) leaves no record of whether the server accepted the message. So:

1. **Claim.** In one transaction the email goes ``queued`` → ``sending`` with a lease
   (``locked_until``) and its attempt counted (a worker that dies still uses one up).
2. **Connect.** The connection is opened and greeted (TCP, TLS, AUTH, EHLO). Nothing is
   offered to the server yet: a failure here, or a worker dying here, is "not sent".
3. **Hand over.** ``handed_over_at`` is committed, on the condition that this worker's lease
   (attempt number and ``locked_until``) is still current and not run out; if it is not,
   the worker stops without sending (the sweeper has settled the email).
4. **Transmit.** ``MAIL FROM``, ``RCPT TO``, ``DATA``. A reply that refuses (4xx/5xx to any
   of them) is "not sent": retried after ``retry_delay``, or failed at ``MAX_ATTEMPTS``, or
   at once when the server refuses every recipient permanently (5xx: the address is wrong).
   Any other failure here (the connection broke, a timeout) is ``unconfirmed``.
5. **Record** the outcome, if the lease is still this worker's. An email that fails for
   good tells the app that queued it (``arpilot.hooks.EmailGaveUp``, in that transaction).

A worker killed in step 1 or 2 leaves a lease that runs out with no ``handed_over_at``: the
sweeper (``queueing.emails_requeue_due``) queues the email again. A worker killed after step 3
leaves one with ``handed_over_at`` (even if it died before ``MAIL FROM``: the record cannot
tell): the sweeper marks it ``unconfirmed`` and it is never sent again by itself; a clerk
checks and chooses "send again" (``email_resend``, the same Message-ID, so a duplicate is
recognisable) or "it arrived" (``email_mark_sent``). Every attempt sends the same Message-ID.
"""

import logging
import random
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from arpilot import hooks
from arpilot.outbound.retry import jittered_delay
from mail import lock_objects
from mail.models import OutboundEmail
from mail.services.queueing import LEASE, _send_on_commit

logger = logging.getLogger(__name__)

# Delay after attempt n (1-based) before attempt n+1, jittered by ±10 %: six attempts over
# about 8.5 hours, long enough for a mail server's maintenance window.
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.1
# Countdowns and clocks may fire a little early; an email this close to due is due.
DUE_TOLERANCE = timedelta(seconds=2)


def retry_delay(attempt_number: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after failed attempt ``attempt_number`` (1-based), with jitter."""
    return jittered_delay(RETRY_DELAYS, attempt_number, jitter=JITTER, rng=rng)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended: ``status`` is what the email becomes (``queued`` meaning "not
    sent, retry"); ``permanent`` makes a refusal final at once."""

    status: str
    error: str = ""
    permanent: bool = False


SENT = Outcome(OutboundEmail.Status.SENT)
LEASE_LOST = Outcome("")  # the sweeper settled the email meanwhile: record nothing


def _not_sent(error: str, *, permanent: bool = False) -> Outcome:
    return Outcome(OutboundEmail.Status.QUEUED, error[:2000], permanent)


def email_send(*, email_id) -> str:
    """Send the email if it is queued and due (what a send task does; safe to run twice).

    Returns the status it ended in, or "" when there was nothing to send.
    """
    email = _claim(email_id)
    if email is None:
        return ""
    outcome = _before_send(email)
    if outcome is None:
        outcome = _transmit(email)
    if outcome is LEASE_LOST:
        return ""
    return _record(email, outcome)


def _claim(email_id) -> OutboundEmail | None:
    """Lease the email and count the attempt; None if it is not queued, not due or taken."""
    with transaction.atomic():
        now = timezone.now()
        email = (
            lock_objects.email_claimable(email_id, now=now, due_before=now + DUE_TOLERANCE)
            .select_related("organization")
            .first()
        )
        if email is None:
            return None
        email.status = OutboundEmail.Status.SENDING
        email.locked_until = now + LEASE
        email.attempt_count += 1
        email.handed_over_at = None
        email.save(
            update_fields=[
                "status",
                "locked_until",
                "attempt_count",
                "handed_over_at",
                "updated_at",
            ]
        )
    return email


def _before_send(email: OutboundEmail) -> Outcome | None:
    """The caller's last word: a cancelling Outcome, a failed one, or None to send."""
    if not email.before_send:
        return None
    try:
        wanted = import_string(email.before_send)(email)
    except Exception as exc:
        logger.exception("before_send %s of email %s raised", email.before_send, email.pk)
        return _not_sent(f"The before-send check {email.before_send} failed: {_words(exc)}")
    if wanted is False:
        return Outcome(
            OutboundEmail.Status.CANCELLED,
            f"Cancelled before sending: {email.before_send} said it is no longer wanted.",
        )
    return None


def email_message(email: OutboundEmail) -> EmailMultiAlternatives:
    """The message as sent: the same Message-ID, bodies and attachment bytes every attempt."""
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=email.from_email,
        to=list(email.to),
        reply_to=list(email.reply_to or []),
        # An automatic message: no vacation auto-replies back (RFC 3834).
        headers={"Message-ID": email.message_id, "Auto-Submitted": "auto-generated"},
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    for attachment in email.attachments.all():
        message.attach(attachment.filename, bytes(attachment.content), attachment.mimetype)
    return message


def _transmit(email: OutboundEmail) -> Outcome:
    """Steps 2 to 4 of the module docstring."""
    connection = None
    try:
        try:
            message = email_message(email)
            message.message()  # rendering errors surface here, before any server is involved
            connection = get_connection(fail_silently=False)
            connection.open()
            _greet(connection)
        except Exception as exc:
            return _not_sent(_words(exc))
        if not _hand_over(email):
            return LEASE_LOST
        try:
            connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return _not_sent(_refused_words(exc), permanent=all(c >= 500 for c in codes))
        except (smtplib.SMTPResponseException, smtplib.SMTPNotSupportedError) as exc:
            return _not_sent(_refused_words(exc))
        except Exception as exc:
            return Outcome(OutboundEmail.Status.UNCONFIRMED, _unconfirmed_words(exc))
        return SENT
    finally:
        if connection is not None:
            _close(connection)


def _greet(connection) -> None:
    """EHLO now rather than in the SMTP transaction (where a failure could not be told from
    one after the server took the message)."""
    smtp = getattr(connection, "connection", None)
    if isinstance(smtp, smtplib.SMTP):
        smtp.ehlo_or_helo_if_needed()


def _close(connection) -> None:
    try:
        connection.close()
    except Exception as exc:  # the message is out (or not) already; QUIT is a courtesy
        logger.info("closing the email connection failed: %s", exc)


def _hand_over(email: OutboundEmail) -> bool:
    """Commit that the SMTP transaction begins, if the lease is still this worker's."""
    now = timezone.now()
    handed = OutboundEmail.objects.filter(
        pk=email.pk,
        status=OutboundEmail.Status.SENDING,
        attempt_count=email.attempt_count,
        locked_until=email.locked_until,
        locked_until__gt=now,
    ).update(handed_over_at=now, updated_at=now)
    return handed == 1


@transaction.atomic
def _record(claimed: OutboundEmail, outcome: Outcome) -> str:
    """Record the attempt's outcome if the lease is still this worker's (or the sweeper only
    marked it unconfirmed meanwhile: what the server said is better than a guess)."""
    Status = OutboundEmail.Status
    email = (
        lock_objects.email_for_update(claimed.pk)
        .filter(
            attempt_count=claimed.attempt_count,
            locked_until=claimed.locked_until,
            status__in=[Status.SENDING, Status.UNCONFIRMED],
        )
        .first()
    )
    if email is None:  # a clerk decided meanwhile
        return ""
    now = timezone.now()
    email.locked_until = None
    email.last_error = outcome.error
    email.next_attempt_at = None
    if outcome.status == Status.SENT:
        email.status = Status.SENT
        email.sent_at = now
    elif outcome.status != Status.QUEUED:  # cancelled, unconfirmed
        email.status = outcome.status
    elif outcome.permanent or email.attempt_count >= MAX_ATTEMPTS:
        email.status = Status.FAILED
    else:
        delay = retry_delay(email.attempt_count)
        email.status = Status.QUEUED
        email.next_attempt_at = now + delay
        email.handed_over_at = None
        _send_on_commit(email.pk, countdown=delay.total_seconds())
    email.save(
        update_fields=[
            "status",
            "locked_until",
            "last_error",
            "next_attempt_at",
            "handed_over_at",
            "sent_at",
            "updated_at",
        ]
    )
    if email.status == Status.FAILED:  # for good: the caller's app decides what that means
        hooks.dispatch(hooks.EmailGaveUp(organization=claimed.organization, email=email))
    elif email.status == Status.SENT:
        hooks.dispatch(hooks.EmailSent(organization=claimed.organization, email=email))
    return email.status


def _words(exc: Exception) -> str:
    """What went wrong before the server was offered the message, for a clerk."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"The mail server refused the sign-in ({_reply(exc)})."
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server refused the connection ({_reply(exc)})."
    if isinstance(exc, ConnectionRefusedError):
        return "The mail server refused the connection (nothing listens there)."
    if isinstance(exc, TimeoutError):
        return "The mail server did not answer in time."
    if isinstance(exc, OSError):
        return f"The mail server could not be reached: {exc}."
    return f"{type(exc).__name__}: {exc}"


def _refused_words(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = "; ".join(
            f"{address}: {code} {_decode(text)}" for address, (code, text) in exc.recipients.items()
        )
        return f"The mail server refused the recipients ({refused})."
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"The mail server refused the sender {exc.sender} ({_reply(exc)})."
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"The mail server refused the message ({_reply(exc)})."
    return f"The mail server cannot take this message: {exc}."


def _unconfirmed_words(exc: Exception) -> str:
    return (
        f"The connection failed while the message was being transmitted ({_words(exc)}): the "
        "server may or may not have accepted it. Check with the recipient, then send it again "
        "or mark it sent."
    )


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_decode(exc.smtp_error)}".strip()


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
