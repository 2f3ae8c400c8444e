"""The accounting change as the API, webhook events and the push sync render it."""

from receivables.rendering import iso_timestamp
from reconciliation.models import AccountingChange
from reconciliation.payloads import render_payload


def _ts(value):
    return iso_timestamp(value) if value is not None else None


def _id(value):
    return str(value) if value is not None else None


def render_change(change: AccountingChange) -> dict:
    return {
        "id": str(change.pk),
        "sequence": change.sequence,
        "approval_sequence": change.approval_sequence,
        "change_type": change.change_type,
        "status": change.status,
        "amount": change.amount,
        "invoice_id": _id(change.invoice_id),
        "customer_id": _id(change.customer_id),
        "payment_id": _id(change.payment_id),
        "payload": render_payload(change.payload),
        "approved_at": _ts(change.approved_at),
        "synced_at": _ts(change.synced_at),
        "failed_at": _ts(change.failed_at),
        "rejected_at": _ts(change.rejected_at),
        "rejection_reason": change.rejection_reason,
        "caused_by": change.caused_by_name,
        "decided_by": change.decided_by,
        "error_message": change.error_message,
        "attempts": change.attempts,
        "created_at": iso_timestamp(change.created_at),
        "updated_at": iso_timestamp(change.updated_at),
    }
