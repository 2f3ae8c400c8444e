"""Adjustments: an invoice's balance lowered without money received, written off (bad debt)
or credited (a credit note, a credit against revenue).

Each one is a money move like a payment (``invoice_apply_payment``: the invoice locked, its
``amount_due`` lowered, its status derived, ``invoice.updated`` and ``invoice.paid`` emitted)
whose debit goes to an adjustment account instead of cash, split across the invoice's funds
like a payment; then the money-event receivers are told (``arpilot.hooks.MoneyMoved``), which
records a pending accounting change on its way to the general ledger:

* write-off    Dr 6950 "Short-payment write-offs" (expense, the account the short-pay
               write-off of ``payments`` uses) / Cr receivable — change type ``write_off``
* credit note  Dr 4900 "Sales credits / credit notes" (contra-revenue, an income account)
               / Cr receivable — change type ``credit_note``

Each account is found by number and type (or, when the number is another kind of account,
by name), and created once per organization at the first free number from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.errors import Conflict, ValidationFailed
from receivables.models import Account, Invoice, JournalEntry
from receivables.services.invoice_money import invoice_apply_payment
from receivables.services.state import _lock

# The same account as ``payments.services.allocations`` (which receivables cannot import).
WRITE_OFF_ACCOUNT_NUMBER = 6950
WRITE_OFF_ACCOUNT_NAME = "Short-payment write-offs"
CREDIT_ACCOUNT_NUMBER = 4900
CREDIT_ACCOUNT_NAME = "Sales credits / credit notes"

WRITE_OFF_SOURCE = "write_off"
CREDIT_NOTE_SOURCE = "credit_note"


@dataclass(frozen=True)
class Adjustment:
    """What an adjustment did: the amount taken off the invoice, the journal entry that
    posted it, the account it debited, and what the money-event receivers returned (the
    pending accounting change, from reconciliation)."""

    invoice: Invoice
    amount: Decimal
    entry: JournalEntry
    account: Account
    recorded: tuple


def _account(organization_id: int, number: int, name: str, type_: str) -> Account:
    """The organization's account ``number`` of ``type_`` (or the one named ``name`` when
    that number is another kind of account); created once, at the first free number."""

    def found() -> Account | None:
        accounts = Account.objects.for_org(organization_id).filter(type=type_)
        return (
            accounts.filter(account_number=number).first()
            or accounts.filter(name=name).order_by("account_number").first()
        )

    account = found()
    if account is not None:
        return account
    taken = set(
        Account.objects.for_org(organization_id)
        .filter(account_number__gte=number)
        .values_list("account_number", flat=True)
    )
    free = number
    while free in taken:
        free += 1
    try:
        with transaction.atomic():  # a concurrent first adjustment may create it too
            return Account.objects.create(
                organization_id=organization_id, account_number=free, name=name, type=type_
            )
    except IntegrityError:
        account = found()
        if account is None:
            raise
        return account


def adjustment_account(organization, number: int, name: str, type_: str) -> Account:
    """An account adjustments may post to (a deduction reason's, say): the organization's
    ``number`` of ``type_``, or the one named ``name``; created once at the first free number."""
    return _account(getattr(organization, "pk", organization), number, name, type_)


def write_off_account(organization) -> Account:
    """The expense account write-offs post to (6950 "Short-payment write-offs")."""
    org_id = getattr(organization, "pk", organization)
    return _account(org_id, WRITE_OFF_ACCOUNT_NUMBER, WRITE_OFF_ACCOUNT_NAME, Account.Type.EXPENSE)


def credit_account(organization) -> Account:
    """The contra-revenue account credit notes post to (4900 "Sales credits / credit notes")."""
    org_id = getattr(organization, "pk", organization)
    return _account(org_id, CREDIT_ACCOUNT_NUMBER, CREDIT_ACCOUNT_NAME, Account.Type.INCOME)


def _amount(invoice: Invoice, amount: Decimal | None, field_name: str) -> Decimal:
    """``amount`` (default: all the invoice owes), checked: more than zero, at most owed."""
    if amount is None:
        amount = invoice.amount_due
        if amount <= 0:
            raise ValidationFailed(
                f"Invoice {invoice.invoice_number} has no open balance.",
                fields={field_name: ["The invoice has no open balance."]},
            )
    if amount <= 0:
        raise ValidationFailed(
            "The amount must be greater than zero.",
            fields={field_name: ["Must be greater than zero."]},
        )
    if amount > invoice.amount_due:
        raise ValidationFailed(
            f"{amount} exceeds the open balance of {invoice.amount_due}.",
            fields={field_name: [f"Exceeds the open balance ({invoice.amount_due})."]},
        )
    return amount


def _adjust(
    invoice: Invoice,
    *,
    amount: Decimal | None,
    account: Account,
    change_type: str,
    source: str,
    memo: str,
    entry_date: date | None,
    field_name: str,
    locked: bool,
    extra: dict | None,
) -> Adjustment:
    if not locked:
        _lock(invoice)
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        raise Conflict(
            f"Invoice {invoice.invoice_number} is {invoice.status}; its balance is not adjusted."
        )
    amount = _amount(invoice, amount, field_name)
    entry = invoice_apply_payment(
        invoice=invoice,
        amount=amount,
        received_date=entry_date or timezone.localdate(),
        cash_account=account,
        source=source,
        memo=memo,
        field_name=field_name,
        locked=True,  # above, or by the caller in this transaction
    )
    recorded = hooks.dispatch(
        hooks.MoneyMoved(
            organization=invoice.organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=invoice.customer,
            payload={
                "journal_entry_id": str(entry.pk),
                "memo": memo,
                "adjustment": change_type,  # not a payment's: reconciliation tells them apart
                "adjustment_account_number": account.account_number,
                **(extra or {}),
            },
            entries=(entry,),
        )
    )
    return Adjustment(
        invoice=invoice, amount=amount, entry=entry, account=account, recorded=tuple(recorded)
    )


@transaction.atomic
def invoice_write_off(
    *,
    invoice: Invoice,
    amount: Decimal | None = None,
    memo: str = "",
    entry_date: date | None = None,
    field_name: str = "amount",
    locked: bool = False,
    extra: dict | None = None,
    account: Account | None = None,
) -> Adjustment:
    """Write off ``amount`` (default: all it owes) of the invoice's balance as bad debt:
    Dr the write-off expense account (or ``account``, one of the organization's: a deduction
    reason's) / Cr receivable, and a ``write_off`` accounting change (``extra`` rides in its
    payload). A 400 naming ``field_name`` for an amount that is not above zero or exceeds the
    balance; a 409 for a draft or void invoice. ``locked``: the caller locked the invoice in
    this transaction (``lock_objects.invoices_for_update``)."""
    if account is not None and account.organization_id != invoice.organization_id:
        raise ValidationFailed(
            "The account is not the organization's.", fields={"account": ["Unknown account."]}
        )
    return _adjust(
        invoice,
        amount=amount,
        account=account or write_off_account(invoice.organization_id),
        change_type="write_off",
        source=WRITE_OFF_SOURCE,
        memo=memo or f"Invoice {invoice.invoice_number} written off",
        entry_date=entry_date,
        field_name=field_name,
        locked=locked,
        extra=extra,
    )


@transaction.atomic
def invoice_credit(
    *,
    invoice: Invoice,
    amount: Decimal | None = None,
    memo: str = "",
    entry_date: date | None = None,
    field_name: str = "amount",
    locked: bool = False,
    extra: dict | None = None,
) -> Adjustment:
    """Credit ``amount`` (default: all it owes) against the invoice's revenue (a credit
    note): Dr the sales-credits contra-revenue account / Cr receivable, and a
    ``credit_note`` accounting change. Checks and ``locked`` as ``invoice_write_off``."""
    return _adjust(
        invoice,
        amount=amount,
        account=credit_account(invoice.organization_id),
        change_type="credit_note",
        source=CREDIT_NOTE_SOURCE,
        memo=memo or f"Credit note on invoice {invoice.invoice_number}",
        entry_date=entry_date,
        field_name=field_name,
        locked=locked,
        extra=extra,
    )
