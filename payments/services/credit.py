"""Customer on-account credit: what payments leave over, by currency, and what a clerk (or
auto-apply, when the organization turns it on) does with it.

A payment's remainder (``Payment.unapplied_amount``: neither applied nor refunded) is a
customer's credit when the payment is that customer's: assigned to it (``Payment.customer``),
or, unassigned, applied only to that customer's invoices. An unassigned payment applied to
nobody, or to several customers' invoices, is nobody's credit: it waits in the review queue.
The customer's open credit notes (``credits``) are credit too, listed beside the payments.

Applying credit is applying the payment (``payment_update`` with ``allocations``). A refund
pays (part of) a remainder back: it is recorded as an outgoing payment (``CreditRefund``)
with one journal entry (the remainder received on account, Dr cash / Cr receivable, and paid
back, Dr receivable / Cr cash: the unapplied remainder was never posted, so the receivable
still equals the open items), a pending accounting change (``refund``) and
``customer.credit_refunded``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import amount_check
from arpilot.errors import NotFound, ValidationFailed
from credits.services.credit_notes import open_credit_notes
from customers.models import Customer
from payments import lock_objects
from payments.models import (
    AUTO_APPLY_CREDIT_CACHE_SECONDS,
    ZERO,
    CreditRefund,
    Payment,
    PaymentAllocation,
    PaymentSettings,
    auto_apply_credit_cache_key,
)
from payments.services.allocations import allocation_apply, save_money
from payments.services.common import organization_currency
from payments.services.money import _emit as payment_events_emit  # as a clerk's apply
from payments.services.money import payment_update
from receivables.models import Account, Invoice
from receivables.selectors import rate_on
from receivables.services.ledger import Posting, currency_unit, ledger_defaults, ledger_post
from webhooks.services import event_emit, event_wanted

REFUND_SOURCE = "refund"


# --- which payments are credit ----------------------------------------------------------------


def credit_payments(*, organization, customer_id) -> QuerySet:
    """The payments whose remainder is the customer's credit, oldest first, each with
    ``remaining`` (what is left of it)."""
    active = PaymentAllocation.objects.filter(payment=OuterRef("pk"), unapplied_at__isnull=True)
    applied_here = active.filter(invoice__customer_id=customer_id)
    applied_elsewhere = active.exclude(invoice__customer_id=customer_id)
    return (
        Payment.objects.for_org(organization)
        .annotate(remaining=F("amount") - F("applied_amount") - F("refunded_amount"))
        .filter(remaining__gt=0)
        .filter(
            Q(customer_id=customer_id)
            | (Q(customer__isnull=True) & Exists(applied_here) & ~Exists(applied_elsewhere))
        )
        .order_by("payment_date", "created_at", "id")
    )


@dataclass
class CurrencyCredit:
    """The customer's credit in one currency: its payments (oldest first, with
    ``remaining``), its open credit notes, and the total of both."""

    currency: str
    payments: list = field(default_factory=list)
    credit_notes: list = field(default_factory=list)

    @property
    def payments_total(self) -> Decimal:
        return sum((payment.remaining for payment in self.payments), ZERO)

    @property
    def credit_notes_total(self) -> Decimal:
        return sum((note.amount_remaining for note in self.credit_notes), ZERO)

    @property
    def total(self) -> Decimal:
        return self.payments_total + self.credit_notes_total


def customer_credit(*, organization, customer: Customer) -> list[CurrencyCredit]:
    """The customer's on-account credit by currency (alphabetical): one query for the
    payments, and what ``open_credit_notes`` costs."""
    base = organization_currency(organization)
    by_currency: dict[str, CurrencyCredit] = {}

    def bucket(currency: str) -> CurrencyCredit:
        currency = (currency or "").upper() or base
        return by_currency.setdefault(currency, CurrencyCredit(currency=currency))

    for payment in credit_payments(organization=organization, customer_id=customer.pk):
        bucket(payment.currency).payments.append(payment)
    for note in open_credit_notes(organization=organization, customer=customer):
        if note.amount_remaining > 0:
            bucket(note.currency).credit_notes.append(note)
    return [by_currency[currency] for currency in sorted(by_currency)]


def customer_get(*, organization, customer_id) -> Customer:
    """The organization's customer (404 otherwise)."""
    customer = Customer.objects.for_org(organization).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound("Customer not found.")
    return customer


@transaction.atomic
def payment_customer_assign(*, organization, payment_id, customer_id) -> Payment:
    """Make the payment's remainder ``customer_id``'s credit (None: nobody's again). 404 for
    another organization's payment; 400 naming ``customer_id`` for an unknown customer."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    known = Customer.objects.for_org(organization).filter(pk=customer_id)
    if customer_id is not None and not known.exists():
        raise ValidationFailed("Unknown customer.", fields={"customer_id": ["Unknown customer."]})
    payment.customer_id = customer_id
    payment.save(update_fields=["customer", "updated_at"])
    return payment


# --- applying ---------------------------------------------------------------------------------


def _field_of(name: str) -> str:
    """The clerk's form field a ``payment_update`` error names (``allocations.1.amount``)."""
    if name.endswith("amount"):
        return "amount"
    if name.endswith("invoice_id") or name == "allocations":
        return "invoice_id"
    return name


@transaction.atomic
def credit_apply(
    *, organization, customer_id, payment_id, invoice_id, amount: Decimal | None = None
) -> Payment:
    """Apply ``amount`` (None: as much as the invoice owes and the credit reaches) of a credit
    payment's remainder to an open invoice of the customer: the payment's spread grows by
    that allocation (``payment_update``). 400 naming ``payment_id``, ``invoice_id`` or
    ``amount``; 404 for another organization's customer."""
    customer = customer_get(organization=organization, customer_id=customer_id)
    payment = _credit_payment_for_update(organization, customer.pk, payment_id)
    invoice = (
        Invoice.objects.for_org(organization)
        .filter(pk=invoice_id, customer_id=customer.pk)
        .only("pk", "amount_due", "status")
        .first()
    )
    if invoice is None or invoice.status not in Invoice.OPEN_STATUSES or invoice.amount_due <= 0:
        message = "Choose an open invoice of this customer."
        raise ValidationFailed(message, fields={"invoice_id": [message]})
    if amount is None:
        amount = min(payment.unapplied_amount, invoice.amount_due)
    elif amount > payment.unapplied_amount:
        message = f"Exceeds the payment's credit left ({payment.unapplied_amount})."
        raise ValidationFailed(message, fields={"amount": [message]})
    spread = {
        allocation.invoice_id: allocation.amount
        for allocation in PaymentAllocation.objects.filter(
            payment=payment, unapplied_at__isnull=True
        )
    }
    spread[invoice.pk] = spread.get(invoice.pk, ZERO) + amount
    try:
        return payment_update(
            organization=organization,
            payment_id=payment.pk,
            allocations=[{"invoice_id": pk, "amount": share} for pk, share in spread.items()],
        )
    except ValidationFailed as exc:
        fields = {_field_of(name): messages for name, messages in exc.fields.items()}
        raise ValidationFailed(exc.message, fields=fields) from None


# --- refunds ----------------------------------------------------------------------------------


def _credit_payment_for_update(organization, customer_id, payment_id) -> Payment:
    """The customer's credit payment ``payment_id``, locked (400 naming ``payment_id``)."""
    payment = (
        credit_payments(organization=organization, customer_id=customer_id)
        .filter(pk=payment_id)
        .select_for_update(of=("self",))
        .first()
    )
    if payment is None:
        message = "Not a payment with credit left for this customer."
        raise ValidationFailed(message, fields={"payment_id": [message]})
    payment.organization = organization
    return payment


def _check_refund_amount(payment: Payment, amount: Decimal) -> str:
    currency = (payment.currency or "").upper() or organization_currency(payment.organization)
    if amount is None or amount <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.", fields={"amount": ["Must be greater than zero."]}
        )
    amount_check(amount, currency, "amount")
    if amount > payment.unapplied_amount:
        message = f"Exceeds the payment's credit left ({payment.unapplied_amount} {currency})."
        raise ValidationFailed(message, fields={"amount": [message]})
    return currency


def _base_amount(organization, currency: str, amount: Decimal, day: date) -> Decimal:
    """``amount`` of ``currency`` in the organization's base currency on ``day`` (the rate
    table's latest rate on or before it; 400 naming ``date`` without one)."""
    if currency == organization_currency(organization):
        return amount
    rate = rate_on(organization, currency, day)
    if rate is None:
        message = f"No exchange rate for {currency} on or before {day.isoformat()}."
        raise ValidationFailed(message, fields={"date": [message]})
    unit = currency_unit(organization_currency(organization))
    return (amount * rate).quantize(unit, rounding=ROUND_HALF_UP)


def _refund_entry(organization, currency: str, amount: Decimal, day: date, memo: str):
    """Received on account and paid back: Dr cash / Cr receivable, Dr receivable / Cr cash
    (in the base currency; the two halves cancel, so the receivable still equals the open
    items, and the general ledger sees the money come in and go out)."""
    accounts, fund = ledger_defaults(organization, [Account.Role.CASH, Account.Role.RECEIVABLE])
    cash, receivable = accounts[Account.Role.CASH], accounts[Account.Role.RECEIVABLE]
    base = _base_amount(organization, currency, amount, day)
    if base <= 0:
        message = f"{amount} {currency} is worth nothing in the base currency: nothing to refund."
        raise ValidationFailed(message, fields={"amount": [message]})
    return ledger_post(
        organization=organization,
        date=day,
        kind="payment",
        lines=[
            Posting(account=cash, fund=fund, debit=base),
            Posting(account=receivable, fund=fund, credit=base),
            Posting(account=receivable, fund=fund, debit=base),
            Posting(account=cash, fund=fund, credit=base),
        ],
        memo=memo,
        source=REFUND_SOURCE,
    )


def render_refund(refund: CreditRefund, accounting_change_id=None) -> dict:
    return {
        "id": str(refund.pk),
        "customer_id": str(refund.customer_id) if refund.customer_id else None,
        "payment_id": str(refund.payment_id),
        "amount": refund.amount,
        "currency": refund.currency,
        "date": refund.refund_date,
        "method": refund.method,
        "reference": refund.reference,
        "journal_entry_id": str(refund.journal_entry_id),
        "accounting_change_id": str(accounting_change_id) if accounting_change_id else None,
        "created_at": refund.created_at,
    }


@transaction.atomic
def credit_refund(
    *,
    organization,
    customer_id,
    payment_id,
    amount: Decimal,
    refund_date: date | None = None,
    method: str = "",
    reference: str = "",
) -> CreditRefund:
    """Pay ``amount`` of a credit payment's remainder back to the customer (an outgoing
    payment): 404 for another organization's customer; 400 naming ``payment_id`` for a
    payment that is not the customer's credit, ``amount`` beyond its remainder or the
    currency's places. The refund comes back with ``accounting_change`` (pending)."""
    customer = customer_get(organization=organization, customer_id=customer_id)
    payment = _credit_payment_for_update(organization, customer.pk, payment_id)
    currency = _check_refund_amount(payment, amount)
    day = refund_date or timezone.localdate()
    who = payment.payer_name or customer.company_name
    memo = f"Credit of payment from {who} refunded to {customer.company_name}"
    if reference:
        memo += f" ({reference})"
    entry = _refund_entry(organization, currency, amount, day, memo)
    refund = CreditRefund.objects.create(
        organization=organization,
        payment=payment,
        customer=customer,
        amount=amount,
        currency=currency,
        refund_date=day,
        method=method or "",
        reference=reference or "",
        journal_entry=entry,
    )
    payment.refunded_amount += amount
    payment.status = payment.derived_status()  # refunded in full (with what was applied): done
    payment.save(update_fields=["refunded_amount", "status", "updated_at"])
    recorded = hooks.dispatch(
        hooks.MoneyMoved(
            organization=organization,
            change_type="refund",
            amount=amount,
            customer=customer,
            payment=payment,
            entries=(entry,),
            payload={
                "journal_entry_id": str(entry.pk),
                "refund_id": str(refund.pk),
                "refund_date": day.isoformat(),
                "refund_currency": currency,
                "refund_method": method or "",
                "refund_reference": reference or "",
                "date": day.isoformat(),
            },
        )
    )
    refund.accounting_change = next((r for r in recorded if r is not None), None)
    if event_wanted(organization.pk, "customer.credit_refunded"):
        change_id = getattr(refund.accounting_change, "pk", None)
        event_emit(
            organization_id=organization.pk,
            event_type="customer.credit_refunded",
            data=render_refund(refund, change_id),
        )
    return refund


# --- auto-apply of credit to a new invoice ----------------------------------------------------


def auto_apply_credit_on(organization_id) -> bool:
    """The organization's ``auto_apply_credit``, from the cache when it has it (no query):
    issuing an invoice asks every time. ``PaymentSettings.save`` stores the new value."""
    key = auto_apply_credit_cache_key(organization_id)
    value = cache.get(key)
    if value is None:
        value = bool(
            PaymentSettings.objects.filter(organization_id=organization_id)
            .values_list("auto_apply_credit", flat=True)
            .first()
        )
        cache.set(key, value, AUTO_APPLY_CREDIT_CACHE_SECONDS)
    return value


def invoice_settle_from_credit(*, organization, invoice: Invoice) -> list[PaymentAllocation]:
    """Settle a new invoice from its customer's credit payments of its currency, oldest
    first, as far as they reach (inside the invoice's transaction; nobody else sees the
    invoice yet). The payments are locked in that order."""
    if invoice.customer_id is None or invoice.amount_due <= 0:
        return []
    if invoice.status not in Invoice.OPEN_STATUSES:
        return []
    currency = invoice.currency or organization_currency(organization)
    base = organization_currency(organization)
    same_currency = Q(currency=currency) | (Q(currency="") if currency == base else Q(pk=None))
    payments = list(
        credit_payments(organization=organization, customer_id=invoice.customer_id)
        .filter(same_currency)
        .select_for_update(of=("self",))
    )
    created = []
    for payment in payments:
        if invoice.amount_due <= 0:
            break
        payment.organization = organization
        share = min(payment.unapplied_amount, invoice.amount_due)
        if share <= 0:
            continue
        created.append(
            allocation_apply(
                payment,
                invoice,
                share,
                applied_by=PaymentAllocation.AppliedBy.AUTO,
                field="customer_id",
            )
        )
        save_money(payment)
        payment_events_emit(payment, ["payment.applied"])
    return created
