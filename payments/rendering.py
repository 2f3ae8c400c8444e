"""The payment as the API and webhook events show it (one rendering for both), and the API's
JSON of it written out by hand."""

from decimal import Decimal

from arpilot.api.fields import iso_timestamp
from arpilot.api.fields import text_or_none as _text
from arpilot.money import MILL, money_value
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


# --- the API's representation ---------------------------------------------------------------
# ``PaymentSerializer`` declares the fields (and the OpenAPI schema); its output is written here
# directly: every import, apply and read of a payment replies with one, and DRF's field by
# field pass cost more than building the payment did. Each helper is what the field's
# ``to_representation`` does (None stays None, as in ``Serializer.to_representation``);
# tests/payments/test_payment_rendering.py holds the two equal.


def _money(value):
    return None if value is None else money_value(Decimal(value).quantize(MILL))


def _allocation_data(allocation: dict) -> dict:
    rate = allocation["exchange_rate"]
    return {
        "invoice_id": _text(allocation["invoice_id"]),
        "invoice_number": _text(allocation["invoice_number"]),
        "amount": _money(allocation["amount"]),
        "invoice_amount": _money(allocation["invoice_amount"]),
        "exchange_rate": None if rate is None else f"{Decimal(rate).normalize():f}",
        "base_amount": _money(allocation["base_amount"]),
        "exchange_difference": _money(allocation["exchange_difference"]),
        "write_off_amount": _money(allocation["write_off_amount"]),
        "applied_by": _text(allocation["applied_by"]),
    }


def _suggestion_data(suggestion: dict) -> dict:
    ids, numbers, reasons = (suggestion[k] for k in ("invoice_ids", "invoice_numbers", "reasons"))
    return {
        "invoice_ids": None if ids is None else [_text(i) for i in ids],
        "invoice_numbers": None if numbers is None else [_text(n) for n in numbers],
        "amount": _money(suggestion["amount"]),
        "score": None if suggestion["score"] is None else float(suggestion["score"]),
        "reasons": None if reasons is None else [_text(r) for r in reasons],
    }


def payment_data(payment: Payment) -> dict:
    """``PaymentSerializer``'s output for ``payment`` (from ``selectors.payment_list``)."""
    rendered = render_payment(payment)
    data = {}
    for name, value in rendered.items():
        if value is None:
            data[name] = None
        elif name in _MONEY:
            data[name] = _money(value)
        elif name in _WHEN:
            data[name] = iso_timestamp(value)
        elif name == "payment_date":
            data[name] = value if isinstance(value, str) else value.isoformat()
        elif name in _FLAGS:
            data[name] = bool(value)
        elif name == "allocations":
            data[name] = [_allocation_data(allocation) for allocation in value]
        elif name == "suggestions":
            data[name] = [_suggestion_data(suggestion) for suggestion in value]
        else:
            data[name] = str(value)
    return data


_MONEY = frozenset(
    {"amount", "applied_amount", "unapplied_amount", "refunded_amount", "written_off_amount"}
)
_WHEN = frozenset({"reviewed_at", "created_at", "updated_at"})
_FLAGS = frozenset({"reviewed", "auto_applied", "unapplied_by_clerk"})
