"""The general-ledger payload of an accounting change.

Lines come from the ARPilot ledger entries behind the event, so the general ledger receives
exactly what ARPilot posted: the caller may name them (``journal_entry_id`` or
``journal_entry_ids`` in the event payload); otherwise the entry is found from the objects
(the invoice's issue entry, the allocation's payment or write-off entry, the offline
payment's entry, the reversal of an unapplied allocation). Only when no entry exists are
default lines derived from the organization's default accounts.

Stored amounts are strings ("100.00": JSON has no decimal type); ``render_payload`` turns
them back into Decimals for the API, which renders them as JSON numbers.
"""

from datetime import date
from decimal import Decimal

from arpilot.money import MILL, ZERO, money_value
from arpilot.timezones import today_in
from receivables.models import Account, Invoice, InvoiceOfflinePayment, JournalEntry, JournalLine
from receivables.services import default_account, default_fund

MONEY_LINE_KEYS = ("debit", "credit")

PAYLOAD_KEYS_HELP = (
    "What a general ledger needs to post the change: `date` (YYYY-MM-DD), `currency`, "
    "`memo`, `invoice_id`, `invoice_number`, `customer_id`, `customer_name`, "
    "`customer_external_id`, `payment_id`, `payment_reference`, `payment_date`, "
    "`payer_name`, `journal_entry_ids` and `lines` — balanced debit/credit lines, each "
    "`{account_number, account_name, account_type, fund_id, fund_name, debit, credit}`. "
    "Keys the event supplied beyond these are passed through."
)


def _money(value: Decimal) -> str:
    return str(money_value(Decimal(value).quantize(MILL)))


def _iso(value) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)


def _today(organization) -> str:
    return today_in(organization.timezone).isoformat()


def _entry_ids_given(extra: dict) -> list[str]:
    ids = list(extra.get("journal_entry_ids") or [])
    if extra.get("journal_entry_id"):
        ids.insert(0, extra["journal_entry_id"])
    nested = extra.get("write_off_reversal")  # payments: an unapplication's write-off reversal
    if isinstance(nested, dict) and nested.get("journal_entry_id"):
        ids.append(nested["journal_entry_id"])
    return [str(entry_id) for entry_id in ids]


def _allocations(payment, invoice):
    from payments.models import PaymentAllocation

    return PaymentAllocation.objects.filter(payment=payment, invoice=invoice).order_by(
        "-created_at"
    )


def _entries_found(change_type: str, *, invoice, payment) -> list:
    """The ledger entry that the event just posted, found from its objects (or none)."""
    if invoice is None:
        return []
    kinds = JournalEntry.Kind
    if change_type == "invoice_created":
        entry = invoice.journal_entries.filter(kind=kinds.ISSUE).order_by("-created_at").first()
        return [entry] if entry else []
    if change_type == "invoice_voided":
        entry = (
            invoice.journal_entries.filter(kind=kinds.ISSUE_REVERSAL)
            .order_by("-created_at")
            .first()
        )
        return [entry] if entry else []
    if change_type == "offline_payment":
        offline = (
            InvoiceOfflinePayment.objects.filter(invoice=invoice)
            .select_related("journal_entry")
            .order_by("-created_at")
            .first()
        )
        return [offline.journal_entry] if offline else []
    if payment is None:
        return []
    if change_type == "payment_applied":
        allocation = _allocations(payment, invoice).filter(unapplied_at__isnull=True).first()
        return [allocation.journal_entry] if allocation else []
    if change_type == "write_off":
        allocation = _allocations(payment, invoice).filter(write_off_entry__isnull=False).first()
        return [allocation.write_off_entry] if allocation else []
    if change_type == "payment_unapplied":
        allocation = _allocations(payment, invoice).filter(unapplied_at__isnull=False).first()
        if allocation is None:
            return []
        reversed_ids = [allocation.journal_entry_id]
        if allocation.write_off_entry_id:
            reversed_ids.append(allocation.write_off_entry_id)
        return list(
            JournalEntry.objects.filter(reverses_id__in=reversed_ids).order_by("created_at")
        )
    return []


def _line(account: Account, fund, *, debit=ZERO, credit=ZERO) -> dict:
    return {
        "account_number": account.account_number,
        "account_name": account.name,
        "account_type": account.type,
        "fund_id": fund.pk,
        "fund_name": fund.name,
        "debit": _money(debit),
        "credit": _money(credit),
    }


def _created(entry):
    return entry.created_at


def _lines_of_entries(entry_ids: list) -> list[dict]:
    lines = (
        JournalLine.objects.filter(entry_id__in=entry_ids)
        .select_related("account", "fund", "entry")
        .order_by("entry__created_at", "id")
    )
    return [_line(line.account, line.fund, debit=line.debit, credit=line.credit) for line in lines]


def _write_off_account(organization_id) -> Account:
    from payments.models import PaymentSettings

    settings_ = PaymentSettings.objects.filter(organization_id=organization_id).first()
    if settings_ is not None and settings_.write_off_account_id:
        return settings_.write_off_account
    # No write-off account configured: the short-pay reduces revenue (a contra entry).
    return default_account(organization_id, Account.Role.REVENUE)


def _default_lines(change_type: str, *, organization_id, amount: Decimal, invoice) -> list[dict]:
    """Two balanced lines on the default accounts, when no ledger entry backs the event."""
    if amount == 0:
        return []
    receivable = invoice.ar_account if invoice is not None else None
    receivable = receivable or default_account(organization_id, Account.Role.RECEIVABLE)
    fund = default_fund(organization_id)
    cash = lambda: default_account(organization_id, Account.Role.CASH)  # noqa: E731
    revenue = lambda: default_account(organization_id, Account.Role.REVENUE)  # noqa: E731
    debit_credit = {
        "invoice_created": (lambda: receivable, revenue),
        "invoice_changed": (lambda: receivable, revenue),
        "invoice_voided": (revenue, lambda: receivable),
        "offline_payment": (cash, lambda: receivable),
        "payment_applied": (cash, lambda: receivable),
        "payment_unapplied": (lambda: receivable, cash),
        "write_off": (lambda: _write_off_account(organization_id), lambda: receivable),
        # A credit note lowers revenue (its own contra account when an entry backs it).
        "credit_note": (revenue, lambda: receivable),
        # Customer credit paid back (payments.services.credit): an outgoing payment.
        "refund": (lambda: receivable, cash),
    }
    debit_account, credit_account = debit_credit[change_type]
    debit_account, credit_account = debit_account(), credit_account()
    if amount < 0:  # an invoice lowered: the mirror image
        debit_account, credit_account = credit_account, debit_account
    size = abs(amount)
    return [
        _line(debit_account, fund, debit=size),
        _line(credit_account, fund, credit=size),
    ]


_MEMOS = {
    "invoice_created": "Invoice {invoice} issued to {customer}",
    "invoice_changed": "Invoice {invoice} changed",
    "invoice_voided": "Invoice {invoice} voided",
    "offline_payment": "Payment received outside ARPilot on invoice {invoice}",
    "payment_applied": "Payment {reference} applied to invoice {invoice}",
    "payment_unapplied": "Payment {reference} unapplied from invoice {invoice}",
    "write_off": "Short-payment written off on invoice {invoice}",
    "credit_note": "Credit note on invoice {invoice}",
    "refund": "Credit of payment {reference} refunded to {customer}",
}


def payload_build(
    *,
    organization,
    change_type: str,
    amount: Decimal,
    invoice: Invoice | None,
    customer,
    payment,
    extra: dict,
    entries: tuple = (),
) -> dict:
    """The payload stored on a new change (JSON-safe: money as strings). ``entries``: the
    journal entries just posted, with their ``posted_lines`` (read from the database when
    not given)."""
    entry_ids = _entry_ids_given(extra)
    if not entry_ids:
        entry_ids = [
            str(entry.pk) for entry in _entries_found(change_type, invoice=invoice, payment=payment)
        ]
    entry_date = None
    posted = {str(entry.pk): entry for entry in entries if hasattr(entry, "posted_lines")}
    if entry_ids and set(entry_ids) <= set(posted):
        in_order = sorted((posted[entry_id] for entry_id in entry_ids), key=_created)
        lines = [
            _line(line.account, line.fund, debit=line.debit, credit=line.credit)
            for entry in in_order
            for line in entry.posted_lines
        ]
        entry_date = in_order[0].date
    elif entry_ids:
        lines = _lines_of_entries(entry_ids)
        entry_date = (
            JournalEntry.objects.filter(pk__in=entry_ids)
            .order_by("created_at")
            .values_list("date", flat=True)
            .first()
        )
    elif extra.get("ledger_lines") == "none":  # nothing posted: a credit note applied (AR to AR)
        lines = []
    else:
        lines = _default_lines(
            change_type, organization_id=organization.pk, amount=amount, invoice=invoice
        )
    invoice_number = invoice.invoice_number if invoice is not None else None
    customer_name = None
    if invoice is not None:
        customer_name = invoice.customer_name or (customer.company_name if customer else None)
    elif customer is not None:
        customer_name = customer.company_name
    reference = None
    if payment is not None:
        reference = payment.payer_reference or payment.external_payment_id or None
    memo = _MEMOS[change_type].format(
        invoice=invoice_number or "(none)",
        customer=customer_name or "(unknown customer)",
        reference=reference or (str(payment.pk)[:8] if payment is not None else ""),
    )
    payload = {
        "date": _iso(extra.get("date")) or _iso(entry_date) or _today(organization),
        "currency": organization.currency,
        "memo": memo,
        "invoice_id": str(invoice.pk) if invoice is not None else None,
        "invoice_number": invoice_number,
        "customer_id": str(customer.pk) if customer is not None else None,
        "customer_name": customer_name,
        "customer_external_id": (customer.external_id or None) if customer is not None else None,
        "payment_id": str(payment.pk) if payment is not None else None,
        "payment_reference": reference,
        "payment_date": _iso(payment.payment_date) if payment is not None else None,
        "payer_name": (payment.payer_name or None) if payment is not None else None,
        "journal_entry_ids": entry_ids,
        "lines": lines,
    }
    for key, value in extra.items():
        if key in {"journal_entry_id", "journal_entry_ids", "lines", "date"}:
            continue
        if key in payload:  # a documented key keeps its documented type
            if value is not None:
                payload[key] = str(_json_value(value))
            continue
        payload[key] = _json_value(value)
    return payload


def _json_value(value):
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def render_payload(payload: dict) -> dict:
    """The stored payload with line amounts as Decimals (rendered as JSON numbers)."""
    rendered = dict(payload)
    lines = payload.get("lines")
    if isinstance(lines, list):
        rendered["lines"] = [
            {
                **line,
                **{key: Decimal(line[key]) for key in MONEY_LINE_KEYS if key in line},
            }
            for line in lines
        ]
    return rendered
