"""Promises to pay: made, changed or cancelled over the API; kept or broken by the daily check."""

from datetime import date, datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from arpilot.errors import Conflict, NotFound, ValidationFailed
from arpilot.money import ZERO
from customers.models import Contact, Customer
from dunning import lock_objects
from dunning.models import Promise, PromiseInvoice
from dunning.rendering import render_promise
from dunning.selectors import promise_list
from dunning.services.run import organization_today
from receivables.models import Invoice
from webhooks.services import event_emit, event_wanted


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def _customer(organization, customer_id) -> Customer:
    customer = Customer.objects.for_org(organization).filter(pk=customer_id).first()
    if customer is None:
        raise _invalid("customer_id", "No such customer.")
    return customer


def _contact(customer: Customer, contact_id) -> Contact | None:
    if contact_id is None:
        return None
    contact = Contact.objects.for_org(customer.organization_id).filter(pk=contact_id).first()
    if contact is None or contact.customer_id != customer.pk:
        raise _invalid("contact_id", "No such contact of this customer.")
    return contact


def _invoices(organization, customer: Customer, invoice_ids) -> list[Invoice]:
    ids = list(dict.fromkeys(invoice_ids))
    invoices = list(
        Invoice.objects.for_org(organization).filter(pk__in=ids, customer=customer).open()
    )
    if len(invoices) != len(ids):
        raise _invalid("invoice_ids", "Each must be an open invoice of this customer.")
    promised = PromiseInvoice.objects.filter(invoice_id__in=ids, promise__status="open")
    if promised.exists():
        raise _invalid("invoice_ids", "An invoice is already covered by an open promise.")
    return invoices


def _date_check(organization, promised_date: date) -> None:
    if promised_date < organization_today(organization):
        raise _invalid("promised_date", "Must be today or later.")


@transaction.atomic
def promise_create(
    *,
    organization,
    customer_id,
    invoice_ids: list,
    amount: Decimal,
    promised_date: date,
    contact_id=None,
    note: str = "",
) -> Promise:
    """Record a promise; its invoices leave dunning until ``promised_date``."""
    customer = _customer(organization, customer_id)
    contact = _contact(customer, contact_id)
    invoices = _invoices(organization, customer, invoice_ids)
    _date_check(organization, promised_date)
    promise = Promise.objects.create(
        organization_id=organization.pk,
        customer=customer,
        contact=contact,
        amount=amount,
        promised_date=promised_date,
        note=note,
        amount_due_at_promise=sum((invoice.amount_due for invoice in invoices), ZERO),
    )
    PromiseInvoice.objects.bulk_create(
        PromiseInvoice(organization_id=organization.pk, promise=promise, invoice=invoice)
        for invoice in invoices
    )
    return promise


@transaction.atomic
def promise_update(*, organization, promise_id, **changes) -> Promise:
    """Change an open promise's amount, date, contact or note, or cancel it (``status``)."""
    promise = (
        lock_objects.promise_for_update(organization, promise_id).select_related("customer").first()
    )
    if promise is None:
        raise NotFound("Not found.")
    if promise.status != Promise.Status.OPEN:
        raise Conflict(f"This promise is {promise.status}; it no longer changes.")
    if "status" in changes and changes["status"] != Promise.Status.CANCELLED:
        raise _invalid("status", "Only 'cancelled' may be set.")
    if "promised_date" in changes:
        _date_check(organization, changes["promised_date"])
        promise.promised_date = changes["promised_date"]
    if "contact_id" in changes:
        promise.contact = _contact(promise.customer, changes["contact_id"])
    for name in ("amount", "note"):
        if name in changes:
            setattr(promise, name, changes[name])
    if changes.get("status") == Promise.Status.CANCELLED:
        promise.status = Promise.Status.CANCELLED
        promise.resolved_at = timezone.now()
    promise.save()
    return promise


def promises_check(*, now: datetime | None = None) -> dict[str, int]:
    """Every open promise: kept once its invoices owe ``amount`` less than when it was made (or
    nothing); broken the day after ``promised_date`` (in its organization's time zone)."""
    now = now or timezone.now()
    counts = {"kept": 0, "broken": 0}
    open_promises = (
        Promise.objects.filter(status=Promise.Status.OPEN)
        .select_related("organization")
        .order_by("organization_id", "id")
    )
    for promise in open_promises.iterator(chunk_size=500):
        outcome = _promise_settle(promise, now)
        if outcome:
            counts[outcome] += 1
    return counts


@transaction.atomic
def _promise_settle(promise: Promise, now: datetime) -> str:
    organization = promise.organization
    promise = lock_objects.promise_for_update(organization, promise.pk).first()
    if promise is None or promise.status != Promise.Status.OPEN:
        return ""
    invoices = Invoice.objects.filter(
        organization_id=organization.pk, pk__in=promise.lines.values("invoice_id")
    )
    owed = sum(
        (
            amount if status in Invoice.OPEN_STATUSES else ZERO
            for amount, status in invoices.values_list("amount_due", "status")
        ),
        ZERO,
    )
    if owed == ZERO or promise.amount_due_at_promise - owed >= promise.amount:
        outcome = Promise.Status.KEPT
    elif promise.promised_date < organization_today(organization, now):
        outcome = Promise.Status.BROKEN
    else:
        return ""
    promise.status = outcome
    promise.resolved_at = now
    promise.save(update_fields=["status", "resolved_at", "updated_at"])
    event_type = f"promise.{outcome}"
    if event_wanted(organization.pk, event_type):
        rendered = promise_list(organization=organization).get(pk=promise.pk)
        event_emit(
            organization_id=organization.pk, event_type=event_type, data=render_promise(rendered)
        )
    return str(outcome)
