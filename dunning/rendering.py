"""The JSON of reminders, promises and disputes: one shape for the API and webhook events."""

from dunning.models import Dispute, Promise, Reminder


def _iso(value):
    return value.isoformat() if value is not None else None


def _id(value):
    return str(value) if value is not None else None


def render_reminder(reminder: Reminder) -> dict:
    """Needs ``lines`` with their invoices prefetched (``selectors.reminder_list``)."""
    return {
        "id": str(reminder.pk),
        "customer_id": str(reminder.customer_id),
        "level": reminder.level,
        "status": reminder.status,
        "to": list(reminder.to),
        "subject": reminder.subject,
        "total": reminder.total,
        "run_date": _iso(reminder.run_date),
        "attach_statement": reminder.attach_statement,
        "invoices": [
            {
                "invoice_id": str(line.invoice_id),
                "invoice_number": line.invoice.invoice_number,
                "amount_due": line.amount_due,
                "days_overdue": line.days_overdue,
            }
            for line in reminder.lines.all()
        ],
        "email_id": str(reminder.email_id) if reminder.email_id else None,
        "sent_at": _iso(reminder.sent_at),
        "cancelled_reason": reminder.cancelled_reason,
        "created_at": _iso(reminder.created_at),
    }


def render_promise(promise: Promise) -> dict:
    """Needs ``lines`` prefetched (``selectors.promise_list``)."""
    return {
        "id": str(promise.pk),
        "customer_id": str(promise.customer_id),
        "invoice_ids": [str(line.invoice_id) for line in promise.lines.all()],
        "amount": promise.amount,
        "promised_date": _iso(promise.promised_date),
        "contact_id": str(promise.contact_id) if promise.contact_id else None,
        "note": promise.note,
        "status": promise.status,
        "resolved_at": _iso(promise.resolved_at),
        "created_at": _iso(promise.created_at),
        "updated_at": _iso(promise.updated_at),
    }


def render_dispute(dispute: Dispute) -> dict:
    """Needs ``reason`` (``select_related``)."""
    return {
        "id": str(dispute.pk),
        "invoice_id": str(dispute.invoice_id),
        "reason_code": dispute.reason.code,
        "reason": dispute.reason.label,
        "note": dispute.note,
        "status": dispute.status,
        "resolution": dispute.resolution or None,
        "resolution_note": dispute.resolution_note,
        "resolution_amount": dispute.resolution_amount,
        "journal_entry_id": _id(dispute.journal_entry_id),
        "accounting_change_id": _id(dispute.accounting_change_id),
        "resolved_at": _iso(dispute.resolved_at),
        "created_at": _iso(dispute.created_at),
    }
