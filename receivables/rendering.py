"""Plain-dict renderings of invoices, shared by the API, the Aplos face and webhook events.

Hand-written rather than nested DRF serializers: the invoice list is the hottest endpoint
(see bench/README.md) and these functions touch only attributes the selectors loaded.
"""

import json
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from rest_framework.utils.encoders import JSONEncoder

from arpilot.api.fields import iso_timestamp


def aplos_timestamp(value: datetime, tz: ZoneInfo) -> str:
    """Aplos style: ``2014-12-31T01:23:45.678-0700`` in the organization's timezone."""
    local = value.astimezone(tz)
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{local.microsecond // 1000:03d}"
        + local.strftime("%z")
    )


def rate_text(value) -> str | None:
    """A rate (not money) as exact decimal text without the storage's trailing zeros
    (``1.0825``), as the API's rate fields render it; None stays None."""
    if value is None:
        return None
    return f"{Decimal(value).normalize():f}"


def render_account(account) -> dict:
    return {"id": str(account.id), "account_number": account.account_number, "name": account.name}


def render_line(line) -> dict:
    return {
        "id": line.id,
        "amount": line.amount,
        "note": line.note,
        "account": render_account(line.account),
        "fund": {"id": line.fund_id, "name": line.fund.name},
    }


def render_offline_payment(payment) -> dict:
    return {
        "id": str(payment.id),
        "amount": payment.amount,
        "date": payment.received_date.isoformat(),
        "source": payment.source,
        "reversed_at": iso_timestamp(payment.reversed_at) if payment.reversed_at else None,
        "reversed_by": payment.reversed_by or None,
        "reason": payment.reversal_reason or None,
    }


OFFLINE_ROW_FIELDS = (
    "invoice_id",
    "id",
    "amount",
    "received_date",
    "source",
    "reversed_at",
    "reversed_by",
    "reversal_reason",
)


def render_offline_payment_row(row: tuple) -> dict:
    _invoice_id, pk, amount, received_date, source, reversed_at, reversed_by, reason = row
    return {
        "id": str(pk),
        "amount": amount,
        "date": received_date.isoformat(),
        "source": source,
        "reversed_at": iso_timestamp(reversed_at) if reversed_at else None,
        "reversed_by": reversed_by or None,
        "reason": reason or None,
    }


def render_invoice(invoice) -> dict:
    customer = invoice.customer
    return {
        "id": str(invoice.id),
        "invoice_number": invoice.invoice_number,
        "customer_id": str(invoice.customer_id),
        "customer_name": invoice.customer_name or customer.company_name,
        "customer_address": invoice.customer_address or customer.address,
        "currency": invoice.currency,
        "exchange_rate": rate_text(invoice.exchange_rate),
        "amount": invoice.amount,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount - invoice.amount_due,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "status": invoice.status,
        "notes": invoice.notes,
        "ar_account": render_account(invoice.ar_account),
        "lines": [render_line(line) for line in invoice.lines.all()],
        "offline_payments": [render_offline_payment(p) for p in invoice.offline_payments.all()],
        "created_at": iso_timestamp(invoice.created_at),
        "updated_at": iso_timestamp(invoice.updated_at),
    }


def render_invoice_row(row: tuple, lines: list[tuple], offline: list[tuple] = ()) -> dict:
    """``render_invoice`` for a row of ``selectors.INVOICE_ROW_FIELDS``, its line rows and
    its offline payment rows (``OFFLINE_ROW_FIELDS``)."""
    (
        pk,
        number,
        customer_id,
        customer_name,
        customer_address,
        company_name,
        company_address,
        currency,
        exchange_rate,
        amount,
        amount_due,
        issue_date,
        due_date,
        status,
        notes,
        ar_id,
        ar_number,
        ar_name,
        created_at,
        updated_at,
    ) = row
    return {
        "id": str(pk),
        "invoice_number": number,
        "customer_id": str(customer_id),
        "customer_name": customer_name or company_name,
        "customer_address": customer_address or company_address,
        "currency": currency,
        "exchange_rate": rate_text(exchange_rate),
        "amount": amount,
        "amount_due": amount_due,
        "amount_paid": amount - amount_due,
        "issue_date": issue_date.isoformat(),
        "due_date": due_date.isoformat(),
        "status": status,
        "notes": notes,
        "ar_account": {"id": str(ar_id), "account_number": ar_number, "name": ar_name},
        "lines": [
            {
                "id": line[1],
                "amount": line[2],
                "note": line[3],
                "account": {"id": str(line[4]), "account_number": line[5], "name": line[6]},
                "fund": {"id": line[7], "name": line[8]},
            }
            for line in lines
        ],
        "offline_payments": [render_offline_payment_row(payment) for payment in offline],
        "created_at": iso_timestamp(created_at),
        "updated_at": iso_timestamp(updated_at),
    }


def event_payload(invoice) -> dict:
    """The invoice as the API renders it, as JSON-native values (for the event outbox)."""
    return json.loads(json.dumps(render_invoice(invoice), cls=JSONEncoder))
