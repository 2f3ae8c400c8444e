"""A reminder's last check before its email goes (the mail outbox's ``before_send`` hook),
and what becomes of it when its email will not go (``arpilot.hooks.EmailGaveUp``)."""

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from credits.models import Deduction
from dunning import lock_objects
from dunning.models import Dispute, PromiseInvoice, Reminder, ReminderInvoice
from dunning.rendering import render_reminder
from dunning.selectors import reminder_list
from receivables.models import Invoice
from webhooks.services import event_emit, event_wanted

_GIVEN_UP = (Reminder.Status.CANCELLED, Reminder.Status.FAILED)


def reminder_before_send(email) -> bool:
    """Send the reminder's email only if every invoice it names is still owed, undisputed,
    without an open deduction and not promised; otherwise cancel the reminder and release its invoices' level (the next run
    decides afresh). Asked before every attempt, so a payment that arrives between a failed
    attempt and its retry still stops it. The reminder becomes ``sent`` only when the server
    has taken the email (``reminder_email_sent``)."""
    reminder_id = (email.reference or {}).get("reminder_id")
    if not reminder_id:
        return False
    with transaction.atomic():
        reminder = lock_objects.reminder_for_update(email.organization_id, reminder_id).first()
        if reminder is None or reminder.status in _GIVEN_UP:
            return False  # released: a resent email stays unsent, the next run decides
        if reminder.status == Reminder.Status.SENT:  # sent already (a clerk resends it)
            return True
        reason = _no_longer_due(reminder)
        if reason:
            _cancel(reminder, reason)
            return False
    return True


def reminder_email_sent(email) -> Reminder | None:
    """The reminder's email was taken by the mail server (or a clerk confirmed it arrived):
    the reminder is ``sent`` at that time and ``reminder.sent`` goes out, once. Called inside
    the mail transaction that records it (``dunning.receivers.email_sent``)."""
    reminder_id = (email.reference or {}).get("reminder_id")
    if not reminder_id:
        return None
    reminder = lock_objects.reminder_for_update(email.organization_id, reminder_id).first()
    if reminder is None or reminder.status != Reminder.Status.QUEUED:
        return None
    if reminder.email_id is not None and reminder.email_id != email.pk:
        return None  # not its email
    reminder.status = Reminder.Status.SENT
    reminder.sent_at = email.sent_at or timezone.now()
    reminder.save(update_fields=["status", "sent_at", "updated_at"])
    if event_wanted(reminder.organization_id, "reminder.sent"):
        rendered = reminder_list(organization=reminder.organization_id).get(pk=reminder.pk)
        event_emit(
            organization_id=reminder.organization_id,
            event_type="reminder.sent",
            data=render_reminder(rendered),
        )
    return reminder


def _no_longer_due(reminder: Reminder) -> str:
    invoice_ids = list(reminder.lines.values_list("invoice_id", flat=True))
    invoices = Invoice.objects.filter(pk__in=invoice_ids, organization_id=reminder.organization_id)
    settled = invoices.filter(~Q(status__in=Invoice.OPEN_STATUSES) | Q(amount_due__lte=0))
    numbers = sorted(settled.values_list("invoice_number", flat=True))
    if numbers:
        return f"Paid (or voided) before sending: {', '.join(numbers)}."
    # One query for both: an open dispute, or an open deduction (the remainder is not
    # overdue debt), takes an invoice out of dunning.
    held = (
        invoices.annotate(
            disputed=Exists(
                Dispute.objects.filter(invoice=OuterRef("pk"), status=Dispute.Status.OPEN)
            ),
            deducted=Exists(
                Deduction.objects.filter(invoice=OuterRef("pk"), status=Deduction.Status.OPEN)
            ),
        )
        .filter(Q(disputed=True) | Q(deducted=True))
        .values_list("disputed", flat=True)
        .first()
    )
    if held is True:
        return "An invoice it names was disputed before sending."
    if held is False:
        return "An invoice it names has an open deduction (a short payment) since."
    if PromiseInvoice.objects.filter(invoice_id__in=invoice_ids, promise__status="open").exists():
        return "An invoice it names was promised before sending."
    return ""


def _cancel(reminder: Reminder, reason: str) -> None:
    reminder.status = Reminder.Status.CANCELLED
    reminder.cancelled_reason = reason[:500]
    reminder.save(update_fields=["status", "cancelled_reason", "updated_at"])
    ReminderInvoice.objects.filter(reminder=reminder).update(released=True)


def _release(reminder: Reminder, status: str, reason: str) -> None:
    reminder.status = status
    reminder.cancelled_reason = reason[:500]
    reminder.save(update_fields=["status", "cancelled_reason", "sent_at", "updated_at"])
    ReminderInvoice.objects.filter(reminder=reminder).update(released=True)


def reminder_email_gave_up(email) -> Reminder | None:
    """The reminder's email will not be sent: it failed for good (``failed``), or a clerk
    cancelled it (``cancelled``). The reminder says so and releases its invoices' level, as
    a cancellation before sending does, so the next run decides afresh. Called inside the
    mail transaction that records it (``dunning.receivers.email_gave_up``); returns the
    reminder it changed (None when it was sent already or is not this email's)."""
    reminder_id = (email.reference or {}).get("reminder_id")
    if not reminder_id:
        return None
    with transaction.atomic():
        reminder = lock_objects.reminder_for_update(email.organization_id, reminder_id).first()
        if reminder is None or reminder.status != Reminder.Status.QUEUED:
            return None
        if reminder.email_id is not None and reminder.email_id != email.pk:
            return None  # not its email
        if email.status == "cancelled":
            _release(reminder, Reminder.Status.CANCELLED, "Its email was cancelled by a clerk.")
        else:
            error = f": {email.last_error}" if email.last_error else "."
            _release(reminder, Reminder.Status.FAILED, f"Its email could not be sent{error}")
    return reminder
