"""A reminder's last check before its email goes (the mail outbox's ``before_send`` hook)."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dunning import lock_objects
from dunning.models import Dispute, PromiseInvoice, Reminder, ReminderInvoice
from dunning.rendering import render_reminder
from dunning.selectors import reminder_list
from receivables.models import Invoice
from webhooks.services import event_emit, event_wanted


def reminder_before_send(email) -> bool:
    """Send the reminder's email only if every invoice it names is still owed, undisputed and
    not promised; otherwise cancel the reminder and release its invoices' level (the next run
    decides afresh). Marks it sent and emits ``reminder.sent`` the first time it says yes."""
    reminder_id = (email.reference or {}).get("reminder_id")
    if not reminder_id:
        return False
    with transaction.atomic():
        reminder = lock_objects.reminder_for_update(email.organization_id, reminder_id).first()
        if reminder is None or reminder.status == Reminder.Status.CANCELLED:
            return False
        if reminder.status == Reminder.Status.SENT:  # a retry of the same email
            return True
        reason = _no_longer_due(reminder)
        if reason:
            _cancel(reminder, reason)
            return False
        reminder.status = Reminder.Status.SENT
        reminder.sent_at = timezone.now()
        reminder.save(update_fields=["status", "sent_at", "updated_at"])
        if event_wanted(reminder.organization_id, "reminder.sent"):
            rendered = reminder_list(organization=reminder.organization_id).get(pk=reminder.pk)
            event_emit(
                organization_id=reminder.organization_id,
                event_type="reminder.sent",
                data=render_reminder(rendered),
            )
    return True


def _no_longer_due(reminder: Reminder) -> str:
    invoice_ids = list(reminder.lines.values_list("invoice_id", flat=True))
    invoices = Invoice.objects.filter(pk__in=invoice_ids, organization_id=reminder.organization_id)
    settled = invoices.filter(~Q(status__in=Invoice.OPEN_STATUSES) | Q(amount_due__lte=0))
    numbers = sorted(settled.values_list("invoice_number", flat=True))
    if numbers:
        return f"Paid (or voided) before sending: {', '.join(numbers)}."
    if Dispute.objects.filter(invoice_id__in=invoice_ids, status=Dispute.Status.OPEN).exists():
        return "An invoice it names was disputed before sending."
    if PromiseInvoice.objects.filter(invoice_id__in=invoice_ids, promise__status="open").exists():
        return "An invoice it names was promised before sending."
    return ""


def _cancel(reminder: Reminder, reason: str) -> None:
    reminder.status = Reminder.Status.CANCELLED
    reminder.cancelled_reason = reason[:500]
    reminder.save(update_fields=["status", "cancelled_reason", "updated_at"])
    ReminderInvoice.objects.filter(reminder=reminder).update(released=True)
