"""The payment as the API and webhook events show it (one rendering for both)."""

from payments.models import Payment
from receivables.rendering import rate_text


def render_allocations(payment: Payment) -> list[dict]:
    return [
        {
            "invoice_id": allocation.invoice_id,
            "invoice_number": allocation.invoice.invoice_number,
            "amount": allocation.amount,
            "invoice_amount": allocation.settled_amount,
            # null within the base currency (the payment's and the invoice's)
            "exchange_rate": rate_text(allocation.exchange_rate),
            "base_amount": allocation.base_amount,
            "exchange_difference": allocation.exchange_difference,
            "write_off_amount": allocation.write_off_amount,
            "applied_by": allocation.applied_by,
        }
        for allocation in payment.active_allocations
    ]


def render_payment(payment: Payment) -> dict:
    """``payment`` must come from ``selectors.payment_list`` (allocations prefetched)."""
    allocations = render_allocations(payment)
    return {
        "id": payment.id,
        "amount": payment.amount,
        "payment_date": payment.payment_date,
        "payment_method": payment.payment_method,
        "payer_name": payment.payer_name,
        "payer_reference": payment.payer_reference,
        "external_payment_id": payment.external_payment_id or None,
        "notes": payment.notes,
        "currency": payment.currency or None,
        "bank_account": payment.bank_account or None,
        "payer_account": payment.payer_account or None,
        "status": payment.status,
        "invoice_id": allocations[0]["invoice_id"] if allocations else None,
        "customer_id": payment.customer_id,
        "allocations": allocations,
        "applied_amount": payment.applied_amount,
        "unapplied_amount": payment.unapplied_amount,
        "refunded_amount": payment.refunded_amount,
        "written_off_amount": payment.written_off_amount,
        "reviewed": payment.reviewed,
        "reviewed_at": payment.reviewed_at,
        "auto_applied": payment.auto_applied,
        "unapplied_by_clerk": payment.unapplied_by_clerk,
        "source": payment.source,
        "import_id": payment.payment_import_id,
        "suggestions": [
            {
                "invoice_ids": suggestion.invoice_ids,
                "invoice_numbers": suggestion.invoice_numbers,
                "amount": suggestion.amount,
                "score": suggestion.score,
                "reasons": suggestion.reasons,
            }
            for suggestion in payment.suggestions.all()
        ],
        "created_at": payment.created_at,
        "updated_at": payment.updated_at,
    }
