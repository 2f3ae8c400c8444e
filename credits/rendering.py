"""A deduction and a reason as the API and webhooks render them (money as JSON numbers)."""

from credits.models import Deduction, DeductionReason


def _id(value) -> str | None:
    return None if value is None else str(value)


def _iso(value) -> str | None:
    return None if value is None else value.isoformat()


def render_reason(reason: DeductionReason) -> dict:
    """Needs ``account`` (``select_related``)."""
    return {
        "id": str(reason.pk),
        "code": reason.code,
        "name": reason.name,
        "account_number": reason.account.account_number,
        "account_name": reason.account.name,
        "is_active": reason.is_active,
    }


def render_deduction(deduction: Deduction) -> dict:
    """Needs ``reason`` and ``invoice`` (``select_related``)."""
    return {
        "id": str(deduction.pk),
        "invoice_id": str(deduction.invoice_id),
        "invoice_number": deduction.invoice.invoice_number,
        "customer_id": str(deduction.customer_id),
        "payment_id": _id(deduction.payment_id),
        "amount": deduction.amount,
        "reason_code": deduction.reason.code,
        "reason": deduction.reason.name,
        "note": deduction.note,
        "status": deduction.status,
        "resolution": deduction.resolution or None,
        "resolution_note": deduction.resolution_note,
        "resolution_amount": deduction.resolution_amount,
        "journal_entry_id": _id(deduction.journal_entry_id),
        "accounting_change_id": _id(deduction.accounting_change_id),
        "rebill_invoice_id": _id(deduction.rebill_invoice_id),
        "resolved_at": _iso(deduction.resolved_at),
        "created_at": _iso(deduction.created_at),
        "updated_at": _iso(deduction.updated_at),
    }
