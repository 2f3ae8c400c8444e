"""What every invoice service shares: the derived status, the lock, the events, and the tail
of every money move (``money_moving``: lock, status before, derive, save, emit)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal

from arpilot import hooks
from arpilot.timezones import today_in
from customers.models import Customer
from receivables import lock_objects
from receivables.models import (
    Invoice,
)
from receivables.rendering import event_payload
from receivables.selectors import invoice_get
from webhooks.services import event_emit, events_wanted

Status = Invoice.Status


def customer_today(customer: Customer) -> date:
    """Today's date where the customer is (its IANA timezone; UTC if that is invalid)."""
    return today_in(customer.timezone)


def derive_status(invoice: Invoice, today: date | None = None) -> str:
    """The status the money and the dates give (draft and void are kept as they are)."""
    if invoice.status in (Status.DRAFT, Status.VOID):
        return invoice.status
    if invoice.amount_due == 0:
        return Status.PAID
    if invoice.due_date < (today or customer_today(invoice.customer)):
        return Status.OVERDUE
    if invoice.amount_due < invoice.amount:
        return Status.PARTIAL
    return Status.PENDING


def _money_event(
    invoice: Invoice, change_type: str, amount: Decimal, *entries, extra: dict | None = None
) -> None:
    """Tell the accounting-change receivers, naming the ledger entries just posted."""
    ids = [str(entry.pk) for entry in entries if entry is not None]
    payload = {"journal_entry_ids": ids} if len(ids) > 1 else {"journal_entry_id": ids[0]}
    payload.update(extra or {})
    hooks.dispatch(
        hooks.MoneyMoved(
            organization=invoice.organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=invoice.customer,
            payload=payload,
            entries=tuple(entry for entry in entries if entry is not None),
        )
    )


def keep_prefetched(invoice: Invoice, *, lines: list, offline_payments: list) -> None:
    """Record on ``invoice`` the lines and offline payments a service has just written, as
    Django's prefetch would, so rendering it (event, API reply) reads nothing again."""
    invoice._prefetched_objects_cache = {
        "lines": list(lines),
        "offline_payments": list(offline_payments),
    }


def is_prefetched(invoice: Invoice) -> bool:
    """Whether ``invoice`` carries its lines and offline payments (``keep_prefetched``)."""
    cache = getattr(invoice, "_prefetched_objects_cache", {})
    return "lines" in cache and "offline_payments" in cache


def _emit(invoice: Invoice, event_types: list[str]) -> None:
    """Record the invoice's events for the endpoints that want them (rendered only then)."""
    event_types = events_wanted(invoice.organization_id, event_types) if event_types else []
    if not event_types:
        return
    rendered = (
        invoice
        if is_prefetched(invoice)
        else invoice_get(organization=invoice.organization_id, pk=invoice.pk)
    )
    data = event_payload(rendered)
    for event_type in dict.fromkeys(event_types):
        event_emit(organization_id=invoice.organization_id, event_type=event_type, data=data)


def _status_events(before: str, after: str) -> list[str]:
    if before == after:
        return []
    return {
        Status.PAID: ["invoice.paid"],
        Status.OVERDUE: ["invoice.overdue"],
        Status.VOID: ["invoice.voided"],
    }.get(after, [])


def _lock(invoice: Invoice) -> Invoice:
    lock_objects.invoices_for_update(invoice.organization_id, [invoice.pk])
    invoice.refresh_from_db()
    return invoice


@contextmanager
def money_moving(invoice: Invoice, *, locked: bool = False) -> Iterator[Invoice]:
    """The frame of every money move on an invoice: lock it and read it afresh (unless the
    caller has just done so in this transaction: ``locked``), remember its status; after the
    block (unless it raised) derive the status from the money, save the balance and status,
    and emit ``invoice.updated`` with the status events."""
    if not locked:
        _lock(invoice)
    before = invoice.status
    yield invoice
    invoice.status = derive_status(invoice)
    invoice.save(update_fields=["amount_due", "status", "updated_at"])
    _emit(invoice, ["invoice.updated", *_status_events(before, invoice.status)])
